package cni

import (
	"encoding/json"
	"testing"

	"github.com/ovnkube/ovnkube/pkg/node/cni/api"
)

// FuzzDecodeRequest feeds arbitrary request bodies to the CNI server's
// decoding. serveCNI decodes a body with json.Unmarshal into api.Request
// (a bad body is answered 400) and Handle then refuses, through validate,
// a request that is not fit to run; a request that is goes on to
// HostVethName. The target does exactly that, without the HTTP server,
// pods or OVS, and asserts:
//
//   - a request validate accepts is ADD, DEL or CHECK with a container id,
//     and ADD and CHECK name the pod, its netns and the interface;
//   - the decoded request, encoded as the plugin encodes it (api.Do:
//     json.Marshal), decodes to the same request, with the same verdict;
//   - HostVethName of an accepted request's container id is 1-15
//     characters Linux accepts in an interface name, a fixed point of
//     HostVethName, or an error when the id has no such character.
//
// Seeds are the requests of the server tests and malformed bodies. `make
// fuzz` runs the target; `go test` runs the seeds only.
func FuzzDecodeRequest(f *testing.F) {
	for _, r := range []api.Request{
		{Command: api.CommandAdd, PodNamespace: "ns1", PodName: "pod1", PodUID: "u1", ContainerID: "4a1f3bd2c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2",
			Netns: "/var/run/netns/p", IfName: "eth0", CNIVersion: "1.0.0"},
		{Command: api.CommandCheck, PodNamespace: "ns1", PodName: "pod1", ContainerID: "cid1", Netns: "/var/run/netns/p", IfName: "eth0", CNIVersion: "1.1.0"},
		{Command: api.CommandDel, PodNamespace: "ns1", PodName: "pod1", ContainerID: "cid1", Netns: "/var/run/netns/p", IfName: "eth0"},
		{Command: api.CommandDel, ContainerID: "feedfeedfeedfeedfeed", IfName: "eth0"},
		{Command: api.CommandAdd, ContainerID: "x"},
		{Command: api.CommandDel, ContainerID: "///"},
		{Command: "VERSION", ContainerID: "x"},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{``, `{`, `null`, `[]`, `{"command":5}`, `{"command":"ADD","containerID":"a/b:c d-e_f.g0123456789"}`,
		`{"command":"DEL","containerID":"\u00e9\ud800x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req api.Request
		if err := json.Unmarshal(body, &req); err != nil {
			return // answered 400 "bad CNI request"
		}
		verr := validate(req)

		wire, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("request %+v decoded from %q does not encode: %v", req, body, err)
		}
		var again api.Request
		if err := json.Unmarshal(wire, &again); err != nil || again != req {
			t.Fatalf("request %+v decoded from %q, encoded as %s, decodes to %+v, %v", req, body, wire, again, err)
		}
		if verr2 := validate(again); (verr2 == nil) != (verr == nil) {
			t.Fatalf("validate(%+v) = %v, but %v after a round trip", req, verr, verr2)
		}
		if verr != nil {
			return
		}

		switch req.Command {
		case api.CommandAdd, api.CommandCheck:
			if req.PodNamespace == "" || req.PodName == "" || req.Netns == "" || req.IfName == "" {
				t.Fatalf("validate accepted %s request %+v without its pod, netns or interface", req.Command, req)
			}
		case api.CommandDel:
		default:
			t.Fatalf("validate accepted command %q", req.Command)
		}
		if req.ContainerID == "" {
			t.Fatalf("validate accepted request %+v without a container id", req)
		}

		name, err := HostVethName(req.ContainerID)
		usable := func(r rune) bool { return r > ' ' && r < 0x7f && r != '/' && r != ':' }
		if err != nil {
			for _, r := range req.ContainerID {
				if usable(r) {
					t.Fatalf("HostVethName(%q) failed although %q is usable: %v", req.ContainerID, r, err)
				}
			}
			return
		}
		if len(name) == 0 || len(name) > maxIfName {
			t.Fatalf("HostVethName(%q) = %q: %d characters", req.ContainerID, name, len(name))
		}
		for _, r := range name {
			if !usable(r) {
				t.Fatalf("HostVethName(%q) = %q holds %q", req.ContainerID, name, r)
			}
		}
		if again, err := HostVethName(name); err != nil || again != name {
			t.Fatalf("HostVethName(%q) = %q, but HostVethName(%q) = %q, %v", req.ContainerID, name, name, again, err)
		}
	})
}
