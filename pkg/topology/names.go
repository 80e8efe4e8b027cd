// Package topology decides what the OVN Northbound should contain for the
// cluster and its nodes. It is pure: objects in, reconcile.Rows out, with the
// well-known OVN-Kubernetes names so `ovn-nbctl show` reads the same as on an
// upstream cluster.
package topology

// Well-known names of the default network's topology.
const (
	ClusterRouter = "ovn_cluster_router"
	JoinSwitch    = "join"

	routerToSwitchPrefix = "rtos-"
	switchToRouterPrefix = "stor-"
	routerToJoinPrefix   = "rtoj-"
	joinToRouterPrefix   = "jtor-"
	mgmtPortPrefix       = "k8s-"
	gatewayRouterPrefix  = "GR_"
	extSwitchPrefix      = "ext_"
	routerToExtPrefix    = "rtoe-"
	extToRouterPrefix    = "etor-"
)

// NodeSwitch is the name of a node's logical switch: the node name itself.
func NodeSwitch(node string) string { return node }

// RouterToSwitchPort is the cluster router's port facing a node switch.
func RouterToSwitchPort(node string) string { return routerToSwitchPrefix + node }

// SwitchToRouterPort is the node switch's peer of RouterToSwitchPort.
func SwitchToRouterPort(node string) string { return switchToRouterPrefix + node }

// RouterToJoinPort is router's port on the join switch ("rtoj-ovn_cluster_router").
func RouterToJoinPort(router string) string { return routerToJoinPrefix + router }

// JoinToRouterPort is the join switch's peer of RouterToJoinPort.
func JoinToRouterPort(router string) string { return joinToRouterPrefix + router }

// ManagementPort is the logical port of a node's host-side management
// interface (ovn-k8s-mp0 on the host).
func ManagementPort(node string) string { return mgmtPortPrefix + node }

// GatewayRouter is a node's gateway router, "GR_<node>".
func GatewayRouter(node string) string { return gatewayRouterPrefix + node }

// ExternalSwitch is the switch between a node's gateway router and br-ex.
func ExternalSwitch(node string) string { return extSwitchPrefix + node }

// RouterToExtPort is router's port on its external switch ("rtoe-GR_<node>").
func RouterToExtPort(router string) string { return routerToExtPrefix + router }

// ExtToRouterPort is the external switch's peer of RouterToExtPort.
func ExtToRouterPort(router string) string { return extToRouterPrefix + router }

// PhysicalNetwork is the OVN network name of the node's external bridge:
// ovn-bridge-mappings maps it to br-ex on every chassis, and each gateway
// router's localnet port names it.
const PhysicalNetwork = "physnet"

// ExternalBridgeInterfaceID is the localnet port of node's external
// switch, "br-ex_<node>" (also the interface-id of l3-gateway-config).
func ExternalBridgeInterfaceID(bridge, node string) string { return bridge + "_" + node }

// GatewayChassisName names the Gateway_Chassis binding port to chassis, the
// OVN convention "<port>-<chassis>".
func GatewayChassisName(port, chassis string) string { return port + "-" + chassis }
