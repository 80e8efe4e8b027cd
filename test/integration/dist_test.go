package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// TestDistManifestsApply: the deployment manifests are valid objects for
// this Kubernetes version (the API server accepts them, RBAC included).
func TestDistManifestsApply(t *testing.T) {
	root, err := sandbox.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl, err := sandbox.BuiltBin("", "kubectl")
	if err != nil {
		t.Fatal(err)
	}
	// A server-side dry run: the API server validates and admits every
	// object (RBAC, admission policies' CEL included) without keeping them,
	// so the policies do not govern the other tests' API server. The
	// namespace is real, for the namespaced objects to be checked in it.
	if out, err := exec.Command(kubectl, "--kubeconfig", apiServer.Kubeconfig, "create", "namespace", "ovn-kubernetes").CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "AlreadyExists") {
		t.Fatalf("create namespace: %v\n%s", err, out)
	}
	out, err := exec.Command(kubectl, "--kubeconfig", apiServer.Kubeconfig, "apply", "--dry-run=server", "-f", filepath.Join(root, "dist")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server -f dist/: %v\n%s", err, out)
	}
	for _, want := range []string{
		"namespace/ovn-kubernetes", "clusterrole.rbac.authorization.k8s.io/ovnkube-master",
		"deployment.apps/ovnkube-master", "clusterrole.rbac.authorization.k8s.io/ovnkube-node", "daemonset.apps/ovnkube-node",
		"validatingadmissionpolicy.admissionregistration.k8s.io/ovnkube-pod-networks",
		"validatingadmissionpolicybinding.admissionregistration.k8s.io/ovnkube-pod-networks",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl apply did not create %s:\n%s", want, out)
		}
	}
	// What the trust review asked of the manifests: ssl: to the databases
	// with the server names checked, metrics on the node's own address
	// only, a master without root.
	for file, wants := range map[string][]string{
		"ovnkube-master.yaml": {"--nb-address=ssl:", "--sb-address=ssl:", "--nb-cert-common-name=", "--sb-cert-common-name=",
			"--metrics-address=$(HOST_IP):", "runAsNonRoot: true", "allowPrivilegeEscalation: false"},
		"ovnkube-node.yaml": {"--sb-address=ssl:", "--metrics-address=$(HOST_IP):"},
	} {
		data, err := os.ReadFile(filepath.Join(root, "dist", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(string(data), w) {
				t.Errorf("dist/%s lacks %q", file, w)
			}
		}
		if strings.Contains(string(data), "0.0.0.0") || strings.Contains(string(data), "tcp:") {
			t.Errorf("dist/%s listens on every address or reaches a database without TLS", file)
		}
	}
}
