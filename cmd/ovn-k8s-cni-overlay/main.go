// Command ovn-k8s-cni-overlay is the CNI plugin of ovnkube. It does no
// networking itself: it forwards each ADD, DEL and CHECK to the CNI server
// of the local `ovnkube node` over the unix socket named in the network
// configuration (serverSocket), and prints the server's result in the CNI
// version the runtime asked for. It deliberately imports no Kubernetes
// client, so it starts fast and stays small.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/ovnkube/ovnkube/pkg/node/cni/api"
)

// defaultSocket matches ovnkube node's --cni-socket default, for configs
// written by hand without serverSocket.
const defaultSocket = "/var/run/ovn-kubernetes/cni/ovn-cni-server.sock"

// requestTimeout is above the server's default waits (30 s for the pod
// annotation plus 30 s for ovn-installed), so the server's own, clearer
// timeout message is what the runtime sees.
const requestTimeout = 2*time.Minute + 10*time.Second

// netConf is the plugin's entry of the conflist.
type netConf struct {
	types.NetConf
	ServerSocket string `json:"serverSocket,omitempty"`
}

// k8sArgs are the CNI_ARGS the kubelet's runtime passes.
type k8sArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE types.UnmarshallableString //nolint:revive // names fixed by the runtime
	K8S_POD_NAME      types.UnmarshallableString //nolint:revive
	K8S_POD_UID       types.UnmarshallableString //nolint:revive
}

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:   func(a *skel.CmdArgs) error { return run(api.CommandAdd, a) },
		Del:   func(a *skel.CmdArgs) error { return run(api.CommandDel, a) },
		Check: func(a *skel.CmdArgs) error { return run(api.CommandCheck, a) },
	}, version.All, "ovn-k8s-cni-overlay: ovnkube's CNI plugin (forwards to ovnkube node)")
}

// request builds the server request from the runtime's arguments.
func request(command string, a *skel.CmdArgs) (api.Request, *netConf, error) {
	conf := &netConf{}
	if err := json.Unmarshal(a.StdinData, conf); err != nil {
		return api.Request{}, nil, types.NewError(types.ErrDecodingFailure, "cannot parse network configuration", err.Error())
	}
	if conf.ServerSocket == "" {
		conf.ServerSocket = defaultSocket
	}
	var ka k8sArgs
	if err := types.LoadArgs(a.Args, &ka); err != nil {
		return api.Request{}, nil, types.NewError(types.ErrInvalidEnvironmentVariables, "cannot parse CNI_ARGS", err.Error())
	}
	return api.Request{
		Command:      command,
		PodNamespace: string(ka.K8S_POD_NAMESPACE),
		PodName:      string(ka.K8S_POD_NAME),
		PodUID:       string(ka.K8S_POD_UID),
		ContainerID:  a.ContainerID,
		Netns:        a.Netns,
		IfName:       a.IfName,
		CNIVersion:   conf.CNIVersion,
	}, conf, nil
}

func run(command string, a *skel.CmdArgs) error {
	req, conf, err := request(command, a)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	raw, err := api.Do(ctx, conf.ServerSocket, req)
	if err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("%s pod %s (container %s): %v", command, req.PodKey(), a.ContainerID, err), "")
	}
	if command != api.CommandAdd {
		return nil
	}
	res, err := current.NewResult(raw)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure, "ovnkube node sent an unparsable CNI result", err.Error())
	}
	return types.PrintResult(res, conf.CNIVersion)
}
