package node

import (
	"context"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/node/gateway"
)

// watchServices feeds every Service's frontends on this node (node ports on
// the node's addresses, external and ingress IPs) to br-ex's flow keeper.
// Endpoints do not matter here: which backends answer is the gateway
// router's business.
func watchServices(ctx context.Context, c kubernetes.Interface, flows *gateway.Flows, nodeIPs []netip.Addr) error {
	factory := informers.NewSharedInformerFactory(c, 0)
	inf := factory.Core().V1().Services().Informer()
	set := func(obj any) {
		if s, ok := obj.(*corev1.Service); ok {
			flows.SetService(s.Namespace+"/"+s.Name, gateway.Frontends(s, nodeIPs))
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, cur any) { set(cur) },
		DeleteFunc: func(obj any) {
			if s, ok := kube.Deleted[*corev1.Service](obj); ok {
				flows.SetService(s.Namespace+"/"+s.Name, nil)
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	return nil
}
