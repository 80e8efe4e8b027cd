package integration

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// distObjects is `kubectl kustomize dist/`, decoded.
type distObjects struct {
	raw          []byte
	byKind       map[string][]runtime.Object
	configMaps   map[string]*corev1.ConfigMap
	accounts     map[string]bool // namespace/name
	clusterRoles map[string]*rbacv1.ClusterRole
	roles        map[string]*rbacv1.Role // namespace/name
}

func renderDist(t *testing.T, kubectl, root string) *distObjects {
	t.Helper()
	out, err := exec.Command(kubectl, "kustomize", filepath.Join(root, "dist")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize dist/: %v", err)
	}
	d := &distObjects{raw: out, byKind: map[string][]runtime.Object{}, configMaps: map[string]*corev1.ConfigMap{},
		accounts: map[string]bool{}, clusterRoles: map[string]*rbacv1.ClusterRole{}, roles: map[string]*rbacv1.Role{}}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decode rendered dist/ object: %v\n%s", err, doc)
		}
		d.byKind[gvk.Kind] = append(d.byKind[gvk.Kind], obj)
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			d.configMaps[o.Namespace+"/"+o.Name] = o
		case *corev1.ServiceAccount:
			d.accounts[o.Namespace+"/"+o.Name] = true
		case *rbacv1.ClusterRole:
			d.clusterRoles[o.Name] = o
		case *rbacv1.Role:
			d.roles[o.Namespace+"/"+o.Name] = o
		}
	}
	return d
}

type podTemplate struct {
	ns   string
	spec corev1.PodSpec
}

// podTemplates returns every workload's pod template by "Kind/name".
func (d *distObjects) podTemplates() map[string]podTemplate {
	out := map[string]podTemplate{}
	for _, o := range d.byKind["Deployment"] {
		w := o.(*appsv1.Deployment)
		out["Deployment/"+w.Name] = podTemplate{w.Namespace, w.Spec.Template.Spec}
	}
	for _, o := range d.byKind["DaemonSet"] {
		w := o.(*appsv1.DaemonSet)
		out["DaemonSet/"+w.Name] = podTemplate{w.Namespace, w.Spec.Template.Spec}
	}
	for _, o := range d.byKind["StatefulSet"] {
		w := o.(*appsv1.StatefulSet)
		out["StatefulSet/"+w.Name] = podTemplate{w.Namespace, w.Spec.Template.Spec}
	}
	return out
}

// TestDistInstall: `kubectl apply -k dist/` is the install. The API server
// accepts every object (server-side dry run: RBAC, admission policies'
// CEL, workloads), and what the objects reference exists: each workload's
// ServiceAccount, each ConfigMap and key it mounts or reads (the --config
// file among them), each Role a binding names; every image is the one the
// kustomization sets; no RBAC rule has a wildcard or an unknown verb; the
// Secrets the operator must create are documented.
func TestDistInstall(t *testing.T) {
	root, err := sandbox.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl, err := sandbox.BuiltBin("", "kubectl")
	if err != nil {
		t.Fatal(err)
	}
	// The namespace is real, for the namespaced objects to be checked in
	// it; the rest is a dry run, so the policies do not govern the other
	// tests' API server.
	if out, err := exec.Command(kubectl, "--kubeconfig", apiServer.Kubeconfig, "create", "namespace", "ovn-kubernetes").CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "AlreadyExists") {
		t.Fatalf("create namespace: %v\n%s", err, out)
	}
	out, err := exec.Command(kubectl, "--kubeconfig", apiServer.Kubeconfig, "apply", "--dry-run=server", "-k", filepath.Join(root, "dist")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server -k dist/: %v\n%s", err, out)
	}
	for _, want := range []string{
		"namespace/ovn-kubernetes", "serviceaccount/ovnkube-master", "serviceaccount/ovnkube-node", "serviceaccount/ovnkube-db",
		"clusterrole.rbac.authorization.k8s.io/ovnkube-master", "role.rbac.authorization.k8s.io/ovnkube-master",
		"clusterrole.rbac.authorization.k8s.io/ovnkube-node", "configmap/ovnkube-config-", "configmap/ovnkube-prometheus-rules-",
		"service/ovnkube-db", "statefulset.apps/ovnkube-db", "deployment.apps/ovnkube-master", "daemonset.apps/ovnkube-node",
		"validatingadmissionpolicy.admissionregistration.k8s.io/ovnkube-pod-networks",
		"validatingadmissionpolicybinding.admissionregistration.k8s.io/ovnkube-node-self",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl apply -k did not create %s:\n%s", want, out)
		}
	}

	d := renderDist(t, kubectl, root)
	templates := d.podTemplates()
	if len(templates) != 3 {
		t.Errorf("workloads %v, want the db StatefulSet, the master Deployment, the node DaemonSet", slices.Collect(maps.Keys(templates)))
	}
	for _, o := range d.byKind["Deployment"] {
		if dep := o.(*appsv1.Deployment); dep.Name == "ovnkube-master" && (dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2) {
			t.Errorf("ovnkube-master replicas %v, want 2 (leader election)", dep.Spec.Replicas)
		}
	}
	docs, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range templates {
		if sa := w.spec.ServiceAccountName; !d.accounts[w.ns+"/"+sa] {
			t.Errorf("%s runs as ServiceAccount %q, which dist/ does not create", name, sa)
		}
		mounts := map[string]string{} // volume -> mount path
		for _, c := range append(slices.Clone(w.spec.InitContainers), w.spec.Containers...) {
			for _, m := range c.VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
		}
		for _, v := range w.spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				cm, ok := d.configMaps[w.ns+"/"+v.ConfigMap.Name]
				if !ok {
					t.Errorf("%s mounts ConfigMap %q, which dist/ does not create", name, v.ConfigMap.Name)
					continue
				}
				for _, item := range v.ConfigMap.Items {
					if _, ok := cm.Data[item.Key]; !ok {
						t.Errorf("%s mounts key %q of ConfigMap %s, which has no such key", name, item.Key, cm.Name)
					}
				}
				// --config=<mount>/<key> must name a key of that ConfigMap.
				for _, c := range w.spec.Containers {
					for _, a := range append(slices.Clone(c.Command), c.Args...) {
						if file, ok := strings.CutPrefix(a, "--config="+mounts[v.Name]+"/"); ok {
							if _, ok := cm.Data[file]; !ok {
								t.Errorf("%s: %s names key %q, not in ConfigMap %s", name, a, file, cm.Name)
							}
						}
					}
				}
			case v.Secret != nil:
				if !strings.Contains(string(docs), v.Secret.SecretName) {
					t.Errorf("%s mounts Secret %q, which docs/operations.md does not tell how to create", name, v.Secret.SecretName)
				}
			}
		}
		for _, c := range w.spec.Containers {
			if c.Image != "ovnkube:latest" {
				t.Errorf("%s container %s: image %q, want the kustomization's one image ovnkube:latest", name, c.Name, c.Image)
			}
			for _, e := range c.Env {
				if r := e.ValueFrom; r != nil && r.ConfigMapKeyRef != nil {
					if cm, ok := d.configMaps[w.ns+"/"+r.ConfigMapKeyRef.Name]; !ok || cm.Data[r.ConfigMapKeyRef.Key] == "" {
						t.Errorf("%s: env %s reads %s/%s, which dist/ does not create", name, e.Name, r.ConfigMapKeyRef.Name, r.ConfigMapKeyRef.Key)
					}
				}
			}
		}
	}

	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	checkRules := func(role string, rules []rbacv1.PolicyRule) {
		for _, r := range rules {
			for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.ResourceNames, r.NonResourceURLs} {
				for _, v := range field {
					if strings.Contains(v, "*") {
						t.Errorf("%s has a wildcard rule %+v", role, r)
					}
				}
			}
			for _, v := range r.Verbs {
				if !slices.Contains(verbs, v) {
					t.Errorf("%s: unknown verb %q", role, v)
				}
			}
		}
	}
	for name, r := range d.clusterRoles {
		checkRules("ClusterRole "+name, r.Rules)
	}
	for name, r := range d.roles {
		checkRules("Role "+name, r.Rules)
	}
	checkBinding := func(what, ns string, ref rbacv1.RoleRef, subjects []rbacv1.Subject) {
		_, cluster := d.clusterRoles[ref.Name]
		_, local := d.roles[ns+"/"+ref.Name]
		if (ref.Kind == "ClusterRole" && !cluster) || (ref.Kind == "Role" && !local) {
			t.Errorf("%s binds %s %q, which dist/ does not create", what, ref.Kind, ref.Name)
		}
		for _, s := range subjects {
			if s.Kind == "ServiceAccount" && !d.accounts[s.Namespace+"/"+s.Name] {
				t.Errorf("%s binds ServiceAccount %s/%s, which dist/ does not create", what, s.Namespace, s.Name)
			}
		}
	}
	for _, o := range d.byKind["ClusterRoleBinding"] {
		b := o.(*rbacv1.ClusterRoleBinding)
		checkBinding("ClusterRoleBinding "+b.Name, "", b.RoleRef, b.Subjects)
	}
	for _, o := range d.byKind["RoleBinding"] {
		b := o.(*rbacv1.RoleBinding)
		checkBinding("RoleBinding "+b.Name, b.Namespace, b.RoleRef, b.Subjects)
	}

	// What the trust review asked: ssl: to the databases with the server
	// names checked, metrics on the node's own address only, a master
	// without root.
	rendered := string(d.raw)
	for _, w := range []string{"- ssl:", "nb-cert-common-name: ovnnb", "sb-cert-common-name: ovnsb", "leader-elect: true",
		"--metrics-address=$(HOST_IP):9409", "--metrics-address=$(HOST_IP):9410", "runAsNonRoot: true", "allowPrivilegeEscalation: false"} {
		if !strings.Contains(rendered, w) {
			t.Errorf("dist/ lacks %q", w)
		}
	}
	if strings.Contains(rendered, "0.0.0.0") || strings.Contains(rendered, "tcp:") {
		t.Error("dist/ listens on every address or reaches a database without TLS")
	}
}

// TestDistConfigFile: the configuration file dist/ ships is one ovnkube
// accepts, and the ovnkube-db entrypoint reads the members from it.
func TestDistConfigFile(t *testing.T) {
	root, err := sandbox.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := sandbox.BuiltBin("", "ovnkube")
	if err != nil {
		t.Fatal(err)
	}
	for setting, want := range map[string]string{
		"nb-address":   "ssl:192.0.2.11:6641,ssl:192.0.2.12:6641,ssl:192.0.2.13:6641",
		"sb-address":   "ssl:192.0.2.11:6642,ssl:192.0.2.12:6642,ssl:192.0.2.13:6642",
		"leader-elect": "true",
	} {
		out, err := exec.Command(bin, "config", "get", setting, "--config", filepath.Join(root, "dist", "ovnkube.yaml")).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("ovnkube config get %s: %q (%v), want %q", setting, out, err, want)
		}
	}
	out, err := exec.Command(bin, "config", "get", "nb-adress", "--config", filepath.Join(root, "dist", "ovnkube.yaml")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown setting "nb-adress"`) {
		t.Errorf("ovnkube config get of a misspelt setting: %q (%v), want an error naming it", out, err)
	}
}
