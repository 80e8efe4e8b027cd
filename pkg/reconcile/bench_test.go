package reconcile

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
)

// BenchmarkPlanUnchangedNode measures the cost of one owner's reconcile that
// finds nothing to do (an informer resync, our own commit echoing back) with
// n nodes' rows in the cache: it must not grow with the cluster.
func BenchmarkPlanUnchangedNode(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			f := newFixture(b)
			routerRef := &Ref{Owner: testOwner("cluster"), Table: nbdb.LogicalRouterTable, ID: "r"}
			f.set("cluster", Row{ID: "r", Model: &nbdb.LogicalRouter{Name: "r"}})
			rows := func(i int) []Row {
				name := fmt.Sprintf("n%d", i)
				subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
				return []Row{
					sw(name, map[string]string{"subnet": subnet.String()}),
					lsp(name, name, "stor-"+name, "router"),
					lsp(name, name, "k8s-"+name, "0a:58:0a:00:00:02 10.0.0.2"),
					{ID: "rtos-" + name, Model: &nbdb.LogicalRouterPort{Name: "rtos-" + name, MAC: "0a:58:0a:00:00:01", Networks: []string{subnet.String()}}, Parent: routerRef},
				}
			}
			f.sync("cluster")
			for i := 0; i < n; i++ {
				f.set(fmt.Sprintf("n%d", i), rows(i)...)
				f.r.Enqueue(testOwner(fmt.Sprintf("n%d", i)))
			}
			for f.r.queue.Len() > 0 {
				f.r.processBatch(context.Background())
			}
			owner := testOwner("n7")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pl, err := f.r.planner.plan(owner, rows(7), nil)
				if err != nil || pl != nil {
					b.Fatalf("plan = %v, %v", render(pl), err)
				}
			}
		})
	}
}
