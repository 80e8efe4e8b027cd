package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/sandbox"
)

// permission is one thing an identity may do: verb on group/resource.
type permission struct{ group, resource, verb string }

func (p permission) String() string {
	g := p.group
	if g == "" {
		g = "core"
	}
	return p.verb + " " + g + "/" + p.resource
}

// distGrants returns what dist/rbac.yaml grants through the named
// ClusterRole and Role (either may be absent).
func distGrants(t *testing.T, role string) map[permission]bool {
	t.Helper()
	root, err := sandbox.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, sandbox.RBACFile))
	if err != nil {
		t.Fatal(err)
	}
	grants := map[permission]bool{}
	add := func(rules []rbacv1.PolicyRule) {
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						grants[permission{g, res, v}] = true
					}
				}
			}
		}
	}
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", sandbox.RBACFile, err)
		}
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			if o.Name == role {
				add(o.Rules)
			}
		case *rbacv1.Role:
			if o.Name == role {
				add(o.Rules)
			}
		}
	}
	return grants
}

// auditEvent is the part of an API server audit line the test reads.
type auditEvent struct {
	Verb      string `json:"verb"`
	UserAgent string `json:"userAgent"`
	User      struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef struct {
		APIGroup    string `json:"apiGroup"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Annotations map[string]string `json:"annotations"`
}

// auditUse reads the sandbox's audit log: per identity ("master", "node"),
// what the ovnkube binary did with it, and each request RBAC refused.
func auditUse(t *testing.T, s *runningSandbox) (used map[string]map[permission]bool, refused []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(s.dir, "kube", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	used = map[string]map[permission]bool{"master": {}, "node": {}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %s: %v", sc.Text(), err)
		}
		who := ""
		switch {
		case e.User.Username == sandbox.MasterUser:
			who = "master"
		case strings.HasPrefix(e.User.Username, sandbox.NodeAgentUser("")):
			who = "node"
		default:
			continue
		}
		// Only the ovnkube binary's own requests: tests borrow these
		// identities to probe what they must not do (TestNodeEditsOnlyItself).
		if e.UserAgent != kube.UserAgent {
			continue
		}
		res := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			res += "/" + e.ObjectRef.Subresource
		}
		p := permission{e.ObjectRef.APIGroup, res, e.Verb}
		if e.Annotations["authorization.k8s.io/decision"] == "forbid" {
			refused = append(refused, who+": "+p.String()+" "+e.ObjectRef.Name)
			continue
		}
		used[who][p] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return used, refused
}

// TestRBACIsExactlyWhatIsUsed runs last (file order) on the shared sandbox,
// whose master and node agents have dist/'s RBAC and nothing else, after
// every other test of the package has driven them. From the API server's
// audit log: RBAC refused none of their requests (dist/ grants all they
// use), and each permission dist/ grants was used at least once (it grants
// nothing they do not use). A small workload of its own covers what a
// filtered run (-run) would not: a pod, and a repeated Warning Event.
func TestRBACIsExactlyWhatIsUsed(t *testing.T) {
	s := dataplane(t)
	ctx := context.Background()
	const ns = "rbac-audit"
	if _, err := s.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Annotations: map[string]string{"k8s.ovn.org/multicast-enabled": "maybe"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	s.createPods(t, podSpec(ns, "audited", s.state.Nodes[0].Name, "/", "sleep", "3600"))
	// The same bad annotation seen again (flipped to another bad value and
	// back): the recorder patches the first Event's count.
	values := []string{"perhaps", "maybe"}
	flips := 0
	waitFor(t, 20*time.Second, func() bool {
		n, err := s.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return false
		}
		n.Annotations["k8s.ovn.org/multicast-enabled"] = values[flips%2]
		if _, err := s.cs.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err == nil {
			flips++
		}
		// Events of cluster-scoped objects live in "default".
		evs, err := s.cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=InvalidMulticastAnnotation,involvedObject.name=" + ns})
		if err != nil {
			return false
		}
		for _, ev := range evs.Items {
			if ev.Count >= 2 {
				return true
			}
		}
		return false
	}, func() string { return "no repeated InvalidMulticastAnnotation Event" })

	// The audit log is written as requests complete: wait until the
	// repeat's patch is in it.
	var used map[string]map[permission]bool
	var refused []string
	waitFor(t, 10*time.Second, func() bool {
		used, refused = auditUse(t, s)
		return used["master"][permission{"", "events", "patch"}]
	}, func() string { return "the Event patch is not in the audit log" })

	if len(refused) > 0 {
		t.Errorf("RBAC refused requests of ovnkube's identities (dist/rbac.yaml lacks them):\n%s", strings.Join(refused, "\n"))
	}
	for who, role := range map[string]string{"master": "ovnkube-master", "node": "ovnkube-node"} {
		grants := distGrants(t, role)
		var unused, ungranted []string
		for p := range grants {
			if !used[who][p] {
				unused = append(unused, p.String())
			}
		}
		for p := range used[who] {
			if !grants[p] {
				ungranted = append(ungranted, p.String())
			}
		}
		sort.Strings(unused)
		sort.Strings(ungranted)
		if len(unused) > 0 {
			t.Errorf("dist/rbac.yaml grants %s what it never used: %s", role, strings.Join(unused, ", "))
		}
		if len(ungranted) > 0 {
			t.Errorf("%s used what %s does not grant: %s", who, role, strings.Join(ungranted, ", "))
		}
		list := slices.Sorted(func(yield func(string) bool) {
			for p := range used[who] {
				if !yield(p.String()) {
					return
				}
			}
		})
		t.Logf("%s used exactly: %s", role, strings.Join(list, ", "))
	}
}
