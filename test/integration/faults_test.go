package integration

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovnkube/ovnkube/pkg/kube"
)

// readyz returns the master's /readyz status and body.
func (e *env) readyz() (int, string) {
	resp, err := http.Get(e.master.ReadyURL)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// nbContent lists the names of the rows of the tables the master writes,
// one sorted list per table.
func (e *env) nbContent() map[string][]string {
	out := map[string][]string{}
	for _, t := range []string{"Logical_Switch", "Logical_Switch_Port", "Logical_Router", "Logical_Router_Port",
		"Port_Group", "ACL", "Address_Set", "Load_Balancer_Group", "Meter"} {
		out[t] = e.names(t)
	}
	return out
}

// TestNBOutage: with the NB down the master stays up and /readyz turns 503
// (naming the NB) within 10 s; a pod created meanwhile gets its port once
// the NB is back and /readyz is 200 again; then the NB is replaced by an
// empty database under the running master and every row comes back, with
// no restart.
func TestNBOutage(t *testing.T) {
	e := newEnv(t, "10.244.0.0/16/24", "10.96.0.0/16")
	for _, n := range []string{"out1", "out2", "out3"} {
		e.createNode(n, map[string]string{kube.NodeChassisIDAnnotation: "chassis-" + n})
	}
	e.createNamespace("outage")
	for i := range 20 {
		e.createPod("outage", fmt.Sprintf("p%d", i), fmt.Sprintf("out%d", i%3+1))
	}
	eventually(t, 30*time.Second, func() string {
		if n := len(e.names("Logical_Switch_Port")); n < 20+3*2 {
			return fmt.Sprintf("%d ports", n)
		}
		return ""
	})
	e.waitIdle()
	pid := e.master.Process.Pid()

	// Outage.
	e.ovn.StopNB()
	down := time.Now()
	eventually(t, 10*time.Second, func() string {
		if code, body := e.readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "NB") {
			return fmt.Sprintf("/readyz %d %q with the NB down", code, body)
		}
		return ""
	})
	t.Logf("/readyz 503 %s after the NB stopped", time.Since(down).Round(time.Millisecond))
	if v := e.metric("ovnkube_ovsdb_connected", map[string]string{"database": "OVN_Northbound"}); v != 0 {
		t.Errorf("ovnkube_ovsdb_connected = %v with the NB down", v)
	}
	e.createPod("outage", "during", "out1")
	// The master rides out the outage: it is alive and answering for 20 s
	// of reconnect attempts (the backoff itself never stops:
	// TestReconnectBackoffNeverStops).
	eventually(t, 40*time.Second, func() string {
		select {
		case <-e.master.Process.Exited():
			t.Fatalf("the master exited during the NB outage:\n%s", e.master.Process.LogTail(20))
		default:
		}
		if code, _ := e.readyz(); code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz %d during the outage", code)
		}
		if time.Since(down) < 20*time.Second {
			return "outage continues"
		}
		return ""
	})
	if err := e.ovn.StartNB(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() string {
		if code, body := e.readyz(); code != http.StatusOK {
			return fmt.Sprintf("/readyz %d %q with the NB back", code, body)
		}
		if e.get("Logical_Switch_Port", "outage_during", "name") == "" {
			return "the pod created during the outage has no port"
		}
		return ""
	})
	e.waitIdle()

	// The NB replaced by an empty one: everything comes back, same process.
	before := e.nbContent()
	if err := e.ovn.ReplaceNB(); err != nil {
		t.Fatal(err)
	}
	replaced := time.Now()
	eventually(t, 30*time.Second, func() string {
		after := e.nbContent()
		for table, names := range before {
			if !slices.Equal(after[table], names) {
				return fmt.Sprintf("%s: %d rows, want %d", table, len(after[table]), len(names))
			}
		}
		return ""
	})
	t.Logf("every row back %s after the NB was replaced", time.Since(replaced).Round(time.Millisecond))
	if e.master.Process.Pid() != pid || !e.master.Process.Running() {
		t.Errorf("the master restarted")
	}
	e.waitIdle()
	if code, body := e.readyz(); code != http.StatusOK {
		t.Errorf("/readyz %d %q after the NB was replaced", code, body)
	}
}
