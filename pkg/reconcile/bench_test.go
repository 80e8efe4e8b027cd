package reconcile

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
)

// BenchmarkPlanUnchangedNode measures one owner's reconcile that finds
// nothing to do (an informer resync, a restart's first pass) with n nodes'
// rows in the cache, on the real ovsdb-server: it must not grow with the
// cluster.
func BenchmarkPlanUnchangedNode(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			f := newFixture(b, real)
			cluster := owner("C", "cluster")
			routerRef := ref(cluster, nbdb.LogicalRouterTable, "r")
			f.set(cluster, router("r"))
			rows := func(i int) []Row {
				name := fmt.Sprintf("n%d", i)
				o := testOwner(name)
				subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
				return []Row{
					sw(name, map[string]string{"subnet": subnet.String()}),
					lsp(o, name, "stor-"+name, "router"),
					lsp(o, name, "k8s-"+name, "0a:58:0a:00:00:02 10.0.0.2"),
					{ID: "rtos-" + name, Model: &nbdb.LogicalRouterPort{Name: "rtos-" + name, MAC: "0a:58:0a:00:00:01", Networks: []string{subnet.String()}},
						Parents: []Ref{routerRef}},
				}
			}
			owners := []Owner{cluster}
			for i := 0; i < n; i++ {
				f.set(testOwner(fmt.Sprintf("n%d", i)), rows(i)...)
				owners = append(owners, testOwner(fmt.Sprintf("n%d", i)))
			}
			f.sync(owners...)
			o := testOwner("n7")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := f.r.planner.plan(o, rows(7), nil)
				if err != nil || res.ops != nil {
					b.Fatalf("plan = %v, %v", opSummary(render(res.ops)), err)
				}
			}
		})
	}
}
