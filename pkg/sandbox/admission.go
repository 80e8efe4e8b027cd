package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// AdmissionPoliciesFile is dist/'s admission policies, relative to the
// repository root.
const AdmissionPoliciesFile = "dist/admission-policies.yaml"

// InstallAdmissionPolicies creates (or updates) the ValidatingAdmissionPolicies
// and their bindings of a multi-document YAML file, the same file a cluster
// applies.
func InstallAdmissionPolicies(ctx context.Context, cs kubernetes.Interface, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("admission policies: %w", err)
	}
	api := cs.AdmissionregistrationV1()
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		switch meta.Kind {
		case "":
			continue // comments only
		case "ValidatingAdmissionPolicy":
			var p admissionv1.ValidatingAdmissionPolicy
			if err := yaml.UnmarshalStrict(doc, &p); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			_, err = api.ValidatingAdmissionPolicies().Create(ctx, &p, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				var cur *admissionv1.ValidatingAdmissionPolicy
				if cur, err = api.ValidatingAdmissionPolicies().Get(ctx, p.Name, metav1.GetOptions{}); err == nil {
					p.ResourceVersion = cur.ResourceVersion
					_, err = api.ValidatingAdmissionPolicies().Update(ctx, &p, metav1.UpdateOptions{})
				}
			}
		case "ValidatingAdmissionPolicyBinding":
			var b admissionv1.ValidatingAdmissionPolicyBinding
			if err := yaml.UnmarshalStrict(doc, &b); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			_, err = api.ValidatingAdmissionPolicyBindings().Create(ctx, &b, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				var cur *admissionv1.ValidatingAdmissionPolicyBinding
				if cur, err = api.ValidatingAdmissionPolicyBindings().Get(ctx, b.Name, metav1.GetOptions{}); err == nil {
					b.ResourceVersion = cur.ResourceVersion
					_, err = api.ValidatingAdmissionPolicyBindings().Update(ctx, &b, metav1.UpdateOptions{})
				}
			}
		default:
			return fmt.Errorf("%s: unexpected kind %s", path, meta.Kind)
		}
		if err != nil {
			return fmt.Errorf("install %s from %s: %w", meta.Kind, path, err)
		}
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
