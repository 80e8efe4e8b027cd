// Package node is `ovnkube node`, the per-node agent: it makes the local
// OVS a chassis of the cluster's OVN (external_ids that ovn-controller
// reads), publishes the chassis id on the Node, sets up the management
// port once the master has given the node a subnet, installs the CNI
// plugin and serves its requests.
//
// The work is split by concern: ovs (the Open_vSwitch database),
// mgmtport (the host's leg on the node switch), cni (the CNI server and
// pod plumbing), cniinstall (plugin binary and conflist). This package
// only wires them in order and owns the Kubernetes side (Node annotation,
// waiting for the node subnet).
package node
