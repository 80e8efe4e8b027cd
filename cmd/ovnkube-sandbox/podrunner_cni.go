// The pod runner's CNI side: the network configuration list, ADD on
// attach, DEL on detach, through libcni and the real plugin.

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/containernetworking/cni/libcni"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	cni100 "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

func (r *podRunner) runtimeConf(st *podState, netns string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: string(st.UID),
		NetNS:       netns,
		IfName:      "eth0",
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", st.Namespace},
			{"K8S_POD_NAME", st.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", string(st.UID)},
			{"K8S_POD_UID", string(st.UID)},
		},
	}
}

func (r *podRunner) confList() (*libcni.NetworkConfigList, error) {
	return libcni.LoadConfList(r.o.cniConfDir, cniNetworkName)
}

// attach creates the pod's namespace and runs CNI ADD through the conflist.
func (r *podRunner) attach(ctx context.Context, pod *corev1.Pod, st *podState) error {
	list, err := r.confList()
	if err != nil {
		return fmt.Errorf("network not ready: no CNI config %q in %s yet (written by ovnkube node): %w", cniNetworkName, r.o.cniConfDir, err)
	}
	if _, err := os.Stat(sandbox.NetNSPath(st.NetNS)); errors.Is(err, fs.ErrNotExist) {
		if err := sandbox.AddNetNS(st.NetNS); err != nil {
			return err
		}
	}
	t0 := time.Now()
	// The plugin has its own timeouts (pod annotation, ovn-installed); this
	// only guards against a hung plugin.
	actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := r.cni.AddNetworkList(actx, list, r.runtimeConf(st, sandbox.NetNSPath(st.NetNS)))
	if err != nil {
		return fmt.Errorf("CNI ADD: %w", err)
	}
	ips, err := resultIPs(res)
	if err != nil {
		return fmt.Errorf("CNI ADD result: %w", err)
	}
	st.Attached, st.IPs = true, ips
	klog.InfoS("pod network attached", "pod", st.key(), "uid", st.UID, "netns", st.NetNS, "ips", ips, "took", time.Since(t0).Round(time.Millisecond))
	return r.saveState(st)
}

func resultIPs(res cnitypes.Result) ([]string, error) {
	r, err := cni100.NewResultFromResult(res)
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, ip := range r.IPs {
		ips = append(ips, ip.Address.IP.String())
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no IPs in the result (%d interfaces)", len(r.Interfaces))
	}
	return ips, nil
}

// detach runs CNI DEL and removes the pod's namespace. Both are safe to
// repeat.
func (r *podRunner) detach(st *podState) error {
	netns := sandbox.NetNSPath(st.NetNS)
	if _, err := os.Stat(netns); err != nil {
		netns = "" // CNI DEL must succeed without a namespace too
	}
	if list, err := r.confList(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := r.cni.DelNetworkList(ctx, list, r.runtimeConf(st, netns))
		cancel()
		if err != nil {
			return fmt.Errorf("CNI DEL: %w", err)
		}
	} else {
		klog.InfoS("no CNI config: skipping CNI DEL", "pod", st.key(), "err", err)
	}
	sandbox.StopProcessesInNetNS([]string{st.NetNS}, 5*time.Second)
	if err := sandbox.DelNetNS(st.NetNS); err != nil {
		return err
	}
	klog.InfoS("pod network detached", "pod", st.key(), "uid", st.UID)
	return nil
}
