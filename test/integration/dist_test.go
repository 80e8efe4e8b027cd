package integration

import (
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
	out, err := exec.Command(kubectl, "--kubeconfig", apiServer.Kubeconfig, "apply", "-f", filepath.Join(root, "dist")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply -f dist/: %v\n%s", err, out)
	}
	for _, want := range []string{
		"namespace/ovn-kubernetes", "clusterrole.rbac.authorization.k8s.io/ovnkube-master",
		"deployment.apps/ovnkube-master", "clusterrole.rbac.authorization.k8s.io/ovnkube-node", "daemonset.apps/ovnkube-node",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl apply did not create %s:\n%s", want, out)
		}
	}
}
