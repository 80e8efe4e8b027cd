package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"

	"github.com/ovnkube/ovnkube/pkg/node/cni/api"
)

// stubServer answers every request with resp and records the request.
func stubServer(t *testing.T, resp api.Response) (string, *api.Request) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	got := &api.Request{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(got)
		if resp.Error != "" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_ = json.NewEncoder(w).Encode(resp)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return sock, got
}

func captureStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	err := f()
	os.Stdout = old
	w.Close()
	b, _ := io.ReadAll(r)
	return string(b), err
}

const result100 = `{"cniVersion":"1.0.0","interfaces":[{"name":"abc","mac":"ee:ee:ee:00:00:01"},{"name":"eth0","mac":"0a:58:0a:f4:01:05","sandbox":"/var/run/netns/p"}],` +
	`"ips":[{"interface":1,"address":"10.244.1.5/24","gateway":"10.244.1.1"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.244.1.1"}]}`

func TestPlugin(t *testing.T) {
	for _, tc := range []struct {
		name, version, command string
		resp                   api.Response
		wantOut, wantErr       string
	}{
		{name: "add 1.0.0", version: "1.0.0", command: api.CommandAdd, resp: api.Response{Result: json.RawMessage(result100)},
			wantOut: `"cniVersion": "1.0.0"`},
		{name: "add converted to 0.4.0", version: "0.4.0", command: api.CommandAdd, resp: api.Response{Result: json.RawMessage(result100)},
			wantOut: `"version": "4"`},
		{name: "add 1.1.0", version: "1.1.0", command: api.CommandAdd, resp: api.Response{Result: json.RawMessage(result100)},
			wantOut: `"cniVersion": "1.1.0"`},
		{name: "server error", version: "1.0.0", command: api.CommandAdd,
			resp:    api.Response{Error: "timed out after 30s waiting for annotation k8s.ovn.org/pod-networks on pod ns1/pod1"},
			wantErr: "ADD pod ns1/pod1 (container cid1): timed out after 30s waiting for annotation k8s.ovn.org/pod-networks on pod ns1/pod1"},
		{name: "del", version: "1.0.0", command: api.CommandDel, resp: api.Response{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock, got := stubServer(t, tc.resp)
			conf := `{"cniVersion":"` + tc.version + `","name":"ovn-kubernetes","type":"ovn-k8s-cni-overlay","serverSocket":"` + sock + `"}`
			args := &skel.CmdArgs{ContainerID: "cid1", Netns: "/var/run/netns/p", IfName: "eth0",
				Args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1;K8S_POD_UID=u1;K8S_POD_INFRA_CONTAINER_ID=cid1", StdinData: []byte(conf)}
			out, err := captureStdout(t, func() error { return run(tc.command, args) })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("output %s lacks %s", out, tc.wantOut)
			}
			want := api.Request{Command: tc.command, PodNamespace: "ns1", PodName: "pod1", PodUID: "u1", ContainerID: "cid1",
				Netns: "/var/run/netns/p", IfName: "eth0", CNIVersion: tc.version}
			if *got != want {
				t.Fatalf("server got %+v, want %+v", *got, want)
			}
		})
	}
}

func TestPluginServerDown(t *testing.T) {
	conf := `{"cniVersion":"1.0.0","name":"n","type":"ovn-k8s-cni-overlay","serverSocket":"/nonexistent/s.sock"}`
	err := run(api.CommandAdd, &skel.CmdArgs{ContainerID: "c", IfName: "eth0", Args: "K8S_POD_NAMESPACE=a;K8S_POD_NAME=b", StdinData: []byte(conf)})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the ovnkube node CNI server at /nonexistent/s.sock") {
		t.Fatalf("err = %v", err)
	}
}
