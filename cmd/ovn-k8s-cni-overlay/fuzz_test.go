package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ovnkube/ovnkube/pkg/node/cni/api"
)

// FuzzRequest feeds arbitrary runtime input to request, the pure part of
// the plugin: the network configuration on stdin, CNI_ARGS and the other
// CNI_* variables (skel reads them from the environment and hands them
// over as a CmdArgs). It asserts:
//
//   - a refused input yields no request and a CNI error with the code the
//     runtime expects (decoding failure for stdin, invalid environment
//     variables for CNI_ARGS); stdin that is not JSON is always refused;
//   - an accepted input yields a request for the command, carrying the
//     container id, netns, interface and the configuration's cniVersion
//     unchanged, and a server socket (the default when none is given);
//   - the pod fields, written back as CNI_ARGS, are read back unchanged;
//   - the request, encoded as api.Do encodes it and decoded as the CNI
//     server decodes it, arrives unchanged, except that JSON carries only
//     UTF-8: each byte that is not part of a UTF-8 sequence arrives as
//     U+FFFD.
//
// Seeds are the inputs of TestPlugin and TestPluginServerDown and
// malformed ones. `make fuzz` runs the target; `go test` runs the seeds
// only.
func FuzzRequest(f *testing.F) {
	const (
		conf    = `{"cniVersion":"1.0.0","name":"ovn-kubernetes","type":"ovn-k8s-cni-overlay","serverSocket":"/run/s.sock"}`
		k8sArgs = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1;K8S_POD_UID=u1;K8S_POD_INFRA_CONTAINER_ID=cid1"
	)
	for _, s := range []struct {
		command                         uint8
		stdin, args, cid, netns, ifName string
	}{
		{0, conf, k8sArgs, "cid1", "/var/run/netns/p", "eth0"},
		{1, strings.Replace(conf, "1.0.0", "0.4.0", 1), k8sArgs, "cid1", "/var/run/netns/p", "eth0"},
		{2, strings.Replace(conf, "1.0.0", "1.1.0", 1), k8sArgs, "cid1", "/var/run/netns/p", "eth0"},
		{0, `{"cniVersion":"1.0.0","name":"n","type":"ovn-k8s-cni-overlay","serverSocket":"/nonexistent/s.sock"}`, "K8S_POD_NAMESPACE=a;K8S_POD_NAME=b", "c", "", "eth0"},
		{0, `{"cniVersion":"1.0.0","name":"n","type":"ovn-k8s-cni-overlay"}`, "", "c", "/proc/1/ns/net", "eth0"},
		{1, `{`, k8sArgs, "cid1", "", "eth0"},
		{0, conf, "K8S_POD_NAME", "cid1", "", "eth0"},
		{0, conf, "UNKNOWN=1", "cid1", "", "eth0"},
		{0, conf, "IgnoreUnknown=maybe", "cid1", "", "eth0"},
		{0, `{"cniVersion":5}`, k8sArgs, "cid1", "", "eth0"},
		{2, `null`, "K8S_POD_NAME=a=b", "\xff", "", ""},
	} {
		f.Add(s.command, []byte(s.stdin), s.args, s.cid, s.netns, s.ifName)
	}
	commands := []string{api.CommandAdd, api.CommandDel, api.CommandCheck}
	f.Fuzz(func(t *testing.T, c uint8, stdin []byte, args, containerID, netns, ifName string) {
		command := commands[int(c)%len(commands)]
		a := &skel.CmdArgs{ContainerID: containerID, Netns: netns, IfName: ifName, Args: args, StdinData: stdin}
		req, conf, err := request(command, a)
		if err != nil {
			var cniErr *types.Error
			if !errors.As(err, &cniErr) || (cniErr.Code != types.ErrDecodingFailure && cniErr.Code != types.ErrInvalidEnvironmentVariables) {
				t.Fatalf("request refused %+v with %v, not a decoding or environment CNI error", a, err)
			}
			if req != (api.Request{}) || conf != nil {
				t.Fatalf("request refused %+v with %v, yet returned %+v, %+v", a, err, req, conf)
			}
			return
		}
		if !json.Valid(stdin) {
			t.Fatalf("request accepted stdin %q, which is not JSON", stdin)
		}
		if req.Command != command || req.ContainerID != containerID || req.Netns != netns || req.IfName != ifName || req.CNIVersion != conf.CNIVersion {
			t.Fatalf("request(%s, %+v) = %+v with cniVersion %q: an input field is not carried unchanged", command, a, req, conf.CNIVersion)
		}
		if conf.ServerSocket == "" {
			t.Fatalf("request(%s, %+v) left the server socket empty", command, a)
		}

		// The pod fields, as the runtime would have passed them.
		podArgs := "K8S_POD_NAMESPACE=" + req.PodNamespace + ";K8S_POD_NAME=" + req.PodName + ";K8S_POD_UID=" + req.PodUID
		a2 := &skel.CmdArgs{ContainerID: containerID, Netns: netns, IfName: ifName, Args: podArgs, StdinData: stdin}
		req2, _, err := request(command, a2)
		if err != nil || req2 != req {
			t.Fatalf("request(%s, %+v) = %+v; with CNI_ARGS %q it is %+v, %v", command, a, req, podArgs, req2, err)
		}

		// What the CNI server receives.
		wire, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("request %+v does not encode: %v", req, err)
		}
		var got api.Request
		if err := json.Unmarshal(wire, &got); err != nil {
			t.Fatalf("request %+v encoded as %s does not decode: %v", req, wire, err)
		}
		want := api.Request{Command: command, PodNamespace: jsonString(req.PodNamespace), PodName: jsonString(req.PodName),
			PodUID: jsonString(req.PodUID), ContainerID: jsonString(containerID), Netns: jsonString(netns),
			IfName: jsonString(ifName), CNIVersion: jsonString(req.CNIVersion)}
		if got != want {
			t.Fatalf("request %+v reaches the server as %+v, want %+v", req, got, want)
		}
	})
}

// jsonString is s as a JSON string carries it: each byte that does not
// belong to a valid UTF-8 sequence becomes U+FFFD.
func jsonString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
