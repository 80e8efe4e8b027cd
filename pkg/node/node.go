package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/ovsdb-models/vswitch"
	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/metrics"
	"github.com/ovnkube/ovnkube/pkg/node/cni"
	"github.com/ovnkube/ovnkube/pkg/node/cniinstall"
	"github.com/ovnkube/ovnkube/pkg/node/gateway"
	"github.com/ovnkube/ovnkube/pkg/node/mgmtport"
	"github.com/ovnkube/ovnkube/pkg/node/ovs"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Run is `ovnkube node`: it bootstraps the node in order, failing fast
// with the cause, and then serves CNI until ctx ends. On return the socket
// is gone; OVS configuration and pod ports stay, so a restart keeps pods
// connected and the chassis id unchanged.
func Run(ctx context.Context, cfg *config.Config, ncfg *config.NodeConfig) error {
	return run(ctx, cfg, ncfg, netns.None())
}

// run is Run with the host network namespace explicit (netns.None() is
// this process's own): tests run the agent against an OVS whose
// ovs-vswitchd lives in a namespace of the test's.
func run(ctx context.Context, cfg *config.Config, ncfg *config.NodeConfig, hostNS netns.NsHandle) error {
	if cfg.NodeName == "" {
		return errors.New("--node-name is required")
	}
	name := cfg.NodeName
	// The host's way out, before anything else: a host whose families
	// leave through different interfaces cannot have one br-ex.
	gw, err := checkGateway(hostNS, cfg, ncfg)
	if err != nil {
		return err
	}
	health := &metrics.Health{}
	if cfg.MetricsEnabled() {
		if err := metrics.Serve(ctx, cfg.MetricsAddress, health); err != nil {
			return err
		}
	}
	client, err := kube.NewClient(cfg.Kubeconfig, cfg.KubeAPIQPS, cfg.KubeAPIBurst)
	if err != nil {
		return err
	}
	node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s (--node-name) from the API server: %w", name, err)
	}
	encapIP := ncfg.EncapIP
	if !encapIP.IsValid() {
		if encapIP, err = nodeInternalIP(node); err != nil {
			return err
		}
	}
	mtu := ncfg.MTU
	if mtu == 0 {
		if mtu, err = encapMTU(hostNS, encapIP); err != nil {
			return err
		}
	}
	klog.InfoS("Starting node agent", "node", name, "encapIP", encapIP, "mtu", mtu, "datapathType", ncfg.DatapathType, "ovs", ncfg.OVSAddress, "gatewayInterface", gw.Interface)

	// a. the chassis
	oc, err := ovs.Connect(ctx, ncfg.OVSAddress)
	if err != nil {
		return err
	}
	defer oc.Close()
	systemID, err := oc.EnsureChassis(ctx, ovs.ChassisSettings{
		Hostname: name, OVNRemote: cfg.SBAddress, EncapIP: encapIP, DatapathType: ncfg.DatapathType,
		BridgeMappings: topology.PhysicalNetwork + ":" + ovs.ExternalBridge,
	})
	if err != nil {
		return fmt.Errorf("configure OVS chassis: %w", err)
	}
	// ovn-controller reaches an ssl: Southbound with the files the
	// Open_vSwitch row names.
	if strings.Contains(cfg.SBAddress, "ssl:") {
		if err := oc.EnsureSSL(ctx, ovs.SSLFiles{PrivateKey: cfg.SBTLS.KeyFile, Certificate: cfg.SBTLS.CertFile, CACert: cfg.SBTLS.CAFile}); err != nil {
			return fmt.Errorf("configure OVS SSL for the Southbound: %w", err)
		}
	}
	// b. br-ex owns the uplink
	up, err := takeOverUplink(ctx, oc, hostNS, gw, ncfg.DatapathType, cfg.MasqueradeSubnets, cfg.ServiceCIDRs)
	if err != nil {
		return err
	}
	// and its flows: the host and the gateway router share the uplink
	host, err := hostAccess(cfg, up)
	if err != nil {
		return err
	}
	flows := gateway.NewFlows(oc, ncfg.OVSAddress, name, up, host)
	var nodeIPs []netip.Addr
	for _, a := range up.Addrs {
		nodeIPs = append(nodeIPs, a.Addr())
	}
	if err := watchServices(ctx, client, flows, nodeIPs); err != nil {
		return err
	}
	go flows.Run(ctx)
	// c. the chassis id and the gateway on the Node, one patch, only what differs
	if err := annotateNode(ctx, client, node, nodeAnnotations(name, systemID, up)); err != nil {
		return err
	}
	// c. the management port, once the master has given us a subnet
	subnets, err := waitNodeSubnets(ctx, client, name)
	if err != nil {
		return err
	}
	if err := ensureManagementPort(ctx, oc, cfg, ncfg, hostNS, name, subnets, mtu); err != nil {
		return err
	}
	go followNode(ctx, client, name, nodeAnnotations(name, systemID, up), subnets, func(s []netip.Prefix) error {
		return ensureManagementPort(ctx, oc, cfg, ncfg, hostNS, name, s, mtu)
	})
	// d. the CNI server
	pods := cni.NewInformerPods(client, name)
	if err := pods.Start(ctx); err != nil {
		return err
	}
	h := cni.NewHandler(cni.Config{
		Bridge:               ovs.IntegrationBridge,
		MTU:                  mtu,
		TxCsumOff:            ncfg.DatapathType == "netdev",
		PodAnnotationTimeout: ncfg.PodAnnotationTimeout,
		OVSInstalledTimeout:  ncfg.OVSInstalledTimeout,
		Namespaces:           cni.Namespaces{Host: hostNS},
	}, pods, oc)
	srv := cni.NewServer(h, ncfg.CNISocket)
	if err := srv.Listen(); err != nil {
		return err
	}
	// e. the plugin, only once the server it points at is listening
	plugin := ncfg.CNIPlugin
	if plugin == "" {
		if plugin, err = cniinstall.DefaultPluginPath(); err != nil {
			return err
		}
	}
	if err := cniinstall.Install(plugin, ncfg.CNIBinDir, ncfg.CNIConfDir, ncfg.CNISocket); err != nil {
		return err
	}
	// f. ready, while the local Open_vSwitch database is connected: an
	// outage makes the agent unready, never exit.
	var mu sync.Mutex
	synced := false
	ovsConnected := metrics.OVSDBConnected.WithLabelValues("Open_vSwitch")
	ovsConnected.Set(1)
	go ovsdbclient.WatchConnection(ctx, oc.Raw(), vswitch.BridgeTable, 200*time.Millisecond, func(up bool) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			ovsConnected.Set(0)
			klog.ErrorS(nil, "Lost the Open_vSwitch database connection; reconnecting", "address", ncfg.OVSAddress)
			health.SetNotReady("Open_vSwitch database disconnected, reconnecting")
			return
		}
		ovsConnected.Set(1)
		klog.InfoS("Open_vSwitch database connection back", "address", ncfg.OVSAddress)
		if synced {
			health.SetReady(true)
		}
	})
	mu.Lock()
	synced = true
	if ovsdbclient.Connected(oc.Raw()) {
		health.SetReady(true)
	}
	mu.Unlock()
	klog.InfoS("Node agent ready", "node", name, "systemID", systemID, "cniSocket", ncfg.CNISocket)
	return srv.Serve(ctx)
}

// takeOverUplink makes br-ex own the gateway interface and gives the host
// its masquerade address and service routes there.
func takeOverUplink(ctx context.Context, oc *ovs.Client, hostNS netns.NsHandle, gw gateway.Gateway, datapathType string, masquerade, serviceCIDRs []netip.Prefix) (gateway.Uplink, error) {
	plan, err := gateway.PlanMasquerade(masquerade, serviceCIDRs)
	if err != nil {
		return gateway.Uplink{}, err
	}
	nl, err := netlinkHandle(hostNS)
	if err != nil {
		return gateway.Uplink{}, fmt.Errorf("netlink: %w", err)
	}
	defer nl.Close()
	up, err := gateway.TakeOver(ctx, oc, nl, gw, datapathType, masquerade)
	if err != nil {
		return up, err
	}
	if datapathType == "netdev" {
		if err := gateway.DeafenUplink(hostNS, up.Port); err != nil {
			return up, fmt.Errorf("keep the host stack off uplink %s: %w", up.Port, err)
		}
	}
	br, err := nl.LinkByName(up.Bridge)
	if err != nil {
		return up, fmt.Errorf("%s: %w", up.Bridge, err)
	}
	return up, gateway.EnsureMasquerade(nl, br, up.MAC, plan)
}

// hostAccess is how the host reaches services through br-ex: from its
// masquerade addresses to the service CIDRs.
func hostAccess(cfg *config.Config, up gateway.Uplink) (gateway.HostAccess, error) {
	plan, err := gateway.PlanMasquerade(cfg.MasqueradeSubnets, cfg.ServiceCIDRs)
	if err != nil {
		return gateway.HostAccess{}, err
	}
	h := gateway.HostAccess{ServiceCIDRs: cfg.ServiceCIDRs, MAC: up.MAC}
	for _, a := range plan.Addrs {
		h.MasqueradeIPs = append(h.MasqueradeIPs, a.Addr())
	}
	return h, nil
}

// checkGateway finds the default gateway of every family the cluster uses.
func checkGateway(hostNS netns.NsHandle, cfg *config.Config, ncfg *config.NodeConfig) (gateway.Gateway, error) {
	var families []gateway.Family
	for _, f := range []gateway.Family{gateway.IPv4, gateway.IPv6} {
		for _, s := range cfg.ClusterSubnets {
			if gateway.FamilyOf(s.CIDR.Addr()) == f {
				families = append(families, f)
				break
			}
		}
	}
	nl, err := netlinkHandle(hostNS)
	if err != nil {
		return gateway.Gateway{}, fmt.Errorf("netlink: %w", err)
	}
	defer nl.Close()
	return gateway.Check(nl, families, gateway.Overrides{Interface: ncfg.GatewayInterface, NextHops: ncfg.GatewayNextHops})
}

func ensureManagementPort(ctx context.Context, oc *ovs.Client, cfg *config.Config, ncfg *config.NodeConfig, hostNS netns.NsHandle, name string, subnets []netip.Prefix, mtu int) error {
	var cluster []netip.Prefix
	for _, s := range cfg.ClusterSubnets {
		cluster = append(cluster, s.CIDR)
	}
	spec, err := mgmtport.Plan(name, subnets, cluster, mtu)
	if err != nil {
		return fmt.Errorf("node %s management port: %w", name, err)
	}
	if err := oc.EnsureBridge(ctx, ovs.IntegrationBridge, ncfg.DatapathType); err != nil {
		return err
	}
	nl, err := netlinkHandle(hostNS)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer nl.Close()
	if err := mgmtport.Ensure(ctx, oc, nl, ovs.IntegrationBridge, spec); err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	klog.InfoS("Management port ready", "node", name, "interface", mgmtport.InterfaceName, "addresses", fmt.Sprint(spec.Addresses), "mac", spec.MAC.String())
	return nil
}
