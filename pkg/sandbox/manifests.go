package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	memory "k8s.io/client-go/discovery/cached"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// dist/ files the sandbox installs, relative to the repository root: the
// same objects a cluster applies.
const (
	AdmissionPoliciesFile = "dist/admission-policies.yaml"
	NamespaceFile         = "dist/namespace.yaml"
	RBACFile              = "dist/rbac.yaml"
)

// NodeAgentsGroup is the group of the sandbox's per-node agent identities;
// InstallRBAC binds dist/'s ovnkube-node ClusterRole to it (in a cluster the
// agents are the ServiceAccount ovnkube-node, which dist/ binds).
const NodeAgentsGroup = "ovnkube:nodes"

// InstallManifests creates (or updates) every object of multi-document YAML
// files such as dist/'s, in order, through the dynamic client: what
// `kubectl apply -f` does for new objects, without kubectl.
func InstallManifests(ctx context.Context, cfg *rest.Config, paths ...string) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("manifests: %w", err)
		}
		for _, doc := range bytes.Split(data, []byte("\n---")) {
			var obj unstructured.Unstructured
			if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if len(obj.Object) == 0 {
				continue // comments only
			}
			gvk := obj.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", path, gvk.Kind, err)
			}
			var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if m.Scope.Name() == meta.RESTScopeNameNamespace {
				ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
			}
			_, err = ri.Create(ctx, &obj, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				var cur *unstructured.Unstructured
				if cur, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{}); err == nil {
					obj.SetResourceVersion(cur.GetResourceVersion())
					_, err = ri.Update(ctx, &obj, metav1.UpdateOptions{})
				}
			}
			if err != nil {
				return fmt.Errorf("install %s %s from %s: %w", gvk.Kind, obj.GetName(), path, err)
			}
		}
	}
	return nil
}

// InstallRBAC installs dist/'s namespace, ServiceAccounts and roles from the
// repository at root, and binds the ovnkube-node ClusterRole to the
// sandbox's node agent identities: the master and the agents then run with
// exactly the permissions dist/ grants.
func InstallRBAC(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, root string) error {
	if err := InstallManifests(ctx, cfg, filepath.Join(root, NamespaceFile), filepath.Join(root, RBACFile)); err != nil {
		return err
	}
	b := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ovnkube-node-sandbox"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "ovnkube-node"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: NodeAgentsGroup}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("bind ovnkube-node to %s: %w", NodeAgentsGroup, err)
	}
	return nil
}

// WaitPodNetworksEnforced returns once the API server refuses a pod that
// names its own k8s.ovn.org/pod-networks (a dry run, as the admin): a new
// policy takes a moment to load.
func WaitPodNetworksEnforced(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "admission-check", Namespace: "default",
			Annotations: map[string]string{"k8s.ovn.org/pod-networks": `{"default":{"ip_addresses":["10.0.0.9/24"],"mac_address":"0a:58:0a:00:00:09"}}`}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "none"}}},
	}
	deadline := time.Now().Add(timeout)
	for {
		_, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if apierrors.IsForbidden(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the pod-networks admission policy is not enforced after %s (a dry-run create returned %v)", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
