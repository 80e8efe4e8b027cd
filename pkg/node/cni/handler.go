package cni

import (
	"context"
	"errors"
	"fmt"
	"time"

	current "github.com/containernetworking/cni/pkg/types/100"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/node/cni/api"
	"github.com/ovnkube/ovnkube/pkg/node/ovs"
)

// Config is what the handler needs to know about its node.
type Config struct {
	Bridge               string // br-int
	MTU                  int
	TxCsumOff            bool // netdev datapath: pods need TX checksum offload off
	PodAnnotationTimeout time.Duration
	OVSInstalledTimeout  time.Duration
	Namespaces           Namespaces
}

// Handler executes CNI requests. It is safe for concurrent use: requests
// for one pod run one at a time, different pods in parallel.
type Handler struct {
	cfg   Config
	pods  PodSource
	ovs   *ovs.Client
	locks keyLock
}

// NewHandler returns a Handler.
func NewHandler(cfg Config, pods PodSource, oc *ovs.Client) *Handler {
	return &Handler{cfg: cfg, pods: pods, ovs: oc}
}

// Handle runs one request and returns the CNI result (ADD only).
func (h *Handler) Handle(ctx context.Context, req api.Request) (*current.Result, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	key := req.PodKey()
	if req.PodName == "" {
		key = "container/" + req.ContainerID
	}
	defer h.locks.lock(key)()
	switch req.Command {
	case api.CommandAdd:
		return h.add(ctx, req)
	case api.CommandDel:
		return nil, h.del(ctx, req)
	default:
		return nil, h.check(ctx, req)
	}
}

func validate(req api.Request) error {
	var missing []string
	need := func(field, v string) {
		if v == "" {
			missing = append(missing, field)
		}
	}
	need("containerID", req.ContainerID)
	switch req.Command {
	case api.CommandAdd, api.CommandCheck:
		need("podNamespace (K8S_POD_NAMESPACE)", req.PodNamespace)
		need("podName (K8S_POD_NAME)", req.PodName)
		need("netns", req.Netns)
		need("ifName", req.IfName)
	case api.CommandDel:
	default:
		return fmt.Errorf("unsupported CNI command %q (want ADD, DEL or CHECK)", req.Command)
	}
	if len(missing) > 0 {
		return fmt.Errorf("CNI %s request lacks %v", req.Command, missing)
	}
	return nil
}

// podNetwork waits for the master's annotation, bounded by the configured
// timeout, and turns a timeout into the message the kubelet shows.
func (h *Handler) podNetwork(ctx context.Context, req api.Request) (kube.PodAddresses, string, error) {
	wctx, cancel := context.WithTimeout(ctx, h.cfg.PodAnnotationTimeout)
	defer cancel()
	addrs, uid, err := h.pods.WaitPodNetwork(wctx, req.PodNamespace, req.PodName, req.PodUID)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			msg := fmt.Sprintf("timed out after %s waiting for annotation %s on pod %s", h.cfg.PodAnnotationTimeout, kube.PodNetworksAnnotation, req.PodKey())
			if req.PodUID != "" {
				msg += " with UID " + req.PodUID
			}
			return addrs, "", errors.New(msg)
		}
		return addrs, "", fmt.Errorf("pod %s: %w", req.PodKey(), err)
	}
	return addrs, uid, nil
}

func (h *Handler) add(ctx context.Context, req api.Request) (_ *current.Result, err error) {
	t0 := time.Now()
	addrs, uid, err := h.podNetwork(ctx, req)
	if err != nil {
		return nil, err
	}
	tAnnot := time.Since(t0)
	hostName, err := HostVethName(req.ContainerID)
	if err != nil {
		return nil, err
	}
	// A retried ADD for the same container starts from scratch: a stale
	// port could still carry ovn-installed from its previous device.
	if err := h.ovs.DeletePort(ctx, h.cfg.Bridge, hostName); err != nil {
		return nil, fmt.Errorf("pod %s: %w", req.PodKey(), err)
	}
	host, err := h.cfg.Namespaces.SetupVeth(VethSpec{
		HostName: hostName, PodNetns: req.Netns, IfName: req.IfName,
		Addresses: addrs, MTU: h.cfg.MTU, TxCsumOff: h.cfg.TxCsumOff,
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", req.PodKey(), err)
	}
	// Undo on failure so a retried ADD (or the kubelet's DEL) starts clean.
	defer func() {
		if err != nil {
			h.cleanup(context.WithoutCancel(ctx), req, hostName)
		}
	}()
	ids := map[string]string{
		ovs.KeyIfaceID:     IfaceID(req.PodNamespace, req.PodName),
		ovs.KeySandbox:     req.ContainerID,
		ovs.KeyAttachedMAC: addrs.MAC.String(),
	}
	if uid != "" {
		ids[ovs.KeyIfaceIDVer] = uid
	}
	// Up before ovs-vswitchd attaches it: vswitchd turns promiscuous mode
	// on with a read-modify-write of the link flags, and a link brought up
	// between its read and its write ends up down again.
	if _, err := h.cfg.Namespaces.SetHostUp(hostName); err != nil {
		return nil, fmt.Errorf("pod %s: %w", req.PodKey(), err)
	}
	if err := h.ovs.EnsurePort(ctx, h.cfg.Bridge, ovs.PortSpec{Name: hostName, ExternalIDs: ids}); err != nil {
		return nil, fmt.Errorf("pod %s: %w", req.PodKey(), err)
	}
	tPort := time.Now()
	if err := h.ovs.WaitInstalled(ctx, hostName, h.cfg.OVSInstalledTimeout); err != nil {
		return nil, fmt.Errorf("pod %s: %w", req.PodKey(), err)
	}
	if wasDown, err := h.cfg.Namespaces.SetHostUp(hostName); err != nil {
		return nil, fmt.Errorf("pod %s: %w", req.PodKey(), err)
	} else if wasDown {
		klog.InfoS("Host veth was found down after ovs-vswitchd attached it; brought it up again", "pod", req.PodKey(), "hostIf", hostName)
	}
	ovnInstalledDuration.Observe(time.Since(tPort).Seconds())
	klog.InfoS("Pod network ready", "pod", req.PodKey(), "containerID", req.ContainerID, "hostIf", hostName,
		"ips", fmt.Sprint(addrs.IPs), "annotationWait", tAnnot, "ovnInstalledWait", time.Since(tPort), "total", time.Since(t0))
	return BuildResult(host, Link{Name: req.IfName, MAC: addrs.MAC, Sandbox: req.Netns}, addrs), nil
}

func (h *Handler) cleanup(ctx context.Context, req api.Request, hostName string) {
	if err := h.ovs.DeletePort(ctx, h.cfg.Bridge, hostName); err != nil {
		klog.ErrorS(err, "Cleanup after failed ADD", "pod", req.PodKey(), "containerID", req.ContainerID)
	}
	if err := h.cfg.Namespaces.DeleteVeth(hostName); err != nil {
		klog.ErrorS(err, "Cleanup after failed ADD", "pod", req.PodKey(), "containerID", req.ContainerID)
	}
}

// del removes what ADD made for the container. Everything is found from
// the container id alone; missing pieces are fine.
func (h *Handler) del(ctx context.Context, req api.Request) error {
	hostName, err := HostVethName(req.ContainerID)
	if err != nil {
		return err
	}
	if err := h.ovs.DeletePort(ctx, h.cfg.Bridge, hostName); err != nil {
		return fmt.Errorf("container %s: %w", req.ContainerID, err)
	}
	if err := h.cfg.Namespaces.DeleteVeth(hostName); err != nil {
		return fmt.Errorf("container %s: %w", req.ContainerID, err)
	}
	klog.InfoS("Pod network removed", "pod", req.PodKey(), "containerID", req.ContainerID, "hostIf", hostName)
	return nil
}

func (h *Handler) check(ctx context.Context, req api.Request) error {
	addrs, _, err := h.podNetwork(ctx, req)
	if err != nil {
		return err
	}
	if err := CheckPod(req.Netns, req.IfName, addrs); err != nil {
		return fmt.Errorf("pod %s: %w", req.PodKey(), err)
	}
	hostName, err := HostVethName(req.ContainerID)
	if err != nil {
		return err
	}
	ok, err := h.ovs.PortExists(ctx, hostName)
	if err != nil {
		return fmt.Errorf("pod %s: %w", req.PodKey(), err)
	}
	if !ok {
		return fmt.Errorf("pod %s: OVS port %s is missing from %s", req.PodKey(), hostName, h.cfg.Bridge)
	}
	return nil
}
