package explain

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/ovsdb-models/sbdb"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
)

// tables maps each generated model type of the NB and SB to its table name.
var tables = sync.OnceValue(func() map[reflect.Type]string {
	out := map[reflect.Type]string{}
	for _, full := range []func() (model.ClientDBModel, error){nbdb.FullDatabaseModel, sbdb.FullDatabaseModel} {
		m, err := full()
		if err != nil {
			panic(fmt.Sprintf("generated database model: %v", err)) // generated code, checked by its own tests
		}
		for table, typ := range m.Types() {
			out[typ] = table
		}
	}
	return out
})

// tableOf is the table of a generated model ("Logical_Switch_Port").
func tableOf(m model.Model) string { return tables()[reflect.TypeOf(m)] }

// stringField reads a string field of a generated model by Go name ("" when
// the model has none).
func stringField(m model.Model, name string) string {
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return ""
	}
	f := v.Elem().FieldByName(name)
	if f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

// externalIDs reads a model's external_ids (nil for tables without them).
func externalIDs(m model.Model) map[string]string {
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	f := v.Elem().FieldByName("ExternalIDs")
	if !f.IsValid() {
		return nil
	}
	ids, _ := f.Interface().(map[string]string)
	return ids
}

func uuidOf(m model.Model) string { return stringField(m, "UUID") }

// rowName is what a user knows a row by: its name column, else the local id
// the reconciler gave it ("snat-10.244.1.0/24", "mgmt-allow-10.244.1.2"),
// else its uuid.
func rowName(m model.Model) string {
	if n := stringField(m, "Name"); n != "" {
		return n
	}
	if _, local, ok := reconcile.RowOwner(externalIDs(m), reconcile.DefaultController); ok {
		return local
	}
	return uuidOf(m)
}

// ownedBy reports whether a row carries owner's tags.
func ownedBy(m model.Model, owner reconcile.Owner) bool {
	o, _, ok := reconcile.RowOwner(externalIDs(m), reconcile.DefaultController)
	return ok && o == owner
}

// summary is one line of a row's content that matters for debugging.
func summary(m model.Model) string {
	switch r := m.(type) {
	case *nbdb.LogicalSwitch:
		var s []string
		for _, k := range []string{"subnet", "ipv6_prefix"} {
			if v := r.OtherConfig[k]; v != "" {
				s = append(s, k+"="+v)
			}
		}
		return strings.Join(append(s, fmt.Sprintf("%d ports", len(r.Ports))), " ")
	case *nbdb.LogicalSwitchPort:
		switch r.Type {
		case "router":
			return "router port, peer " + r.Options["router-port"]
		case "":
			s := strings.Join(r.Addresses, ", ")
			if r.Up != nil && *r.Up {
				s += " up"
			}
			return s
		default:
			return r.Type + " " + strings.Join(r.Addresses, ", ")
		}
	case *nbdb.LogicalRouterPort:
		return r.MAC + " " + strings.Join(r.Networks, " ")
	case *nbdb.LogicalRouter:
		s := fmt.Sprintf("%d ports", len(r.Ports))
		if c := r.Options["chassis"]; c != "" {
			s = "chassis=" + c + " " + s
		}
		return s
	case *nbdb.GatewayChassis:
		return fmt.Sprintf("chassis %s priority %d", r.ChassisName, r.Priority)
	case *nbdb.ACL:
		return fmt.Sprintf("%s %d %s: %s", r.Direction, r.Priority, r.Action, r.Match)
	case *nbdb.NAT:
		return fmt.Sprintf("%s %s -> %s", r.Type, r.LogicalIP, r.ExternalIP)
	case *nbdb.LogicalRouterStaticRoute:
		s := r.IPPrefix + " via " + r.Nexthop
		if r.Policy != nil {
			s += " (" + string(*r.Policy) + ")"
		}
		return s
	case *nbdb.LogicalRouterPolicy:
		return fmt.Sprintf("%d %s: %s", r.Priority, r.Action, r.Match)
	case *nbdb.LoadBalancer:
		vips := make([]string, 0, len(r.Vips))
		for vip, backends := range r.Vips {
			vips = append(vips, vip+" -> "+backends)
		}
		sort.Strings(vips)
		return strings.Join(vips, "; ")
	case *nbdb.PortGroup:
		return fmt.Sprintf("%d ports, %d ACLs", len(r.Ports), len(r.ACLs))
	case *nbdb.AddressSet:
		return strings.Join(r.Addresses, " ")
	case *nbdb.Meter:
		return string(r.Unit)
	case *nbdb.MeterBand:
		return fmt.Sprintf("%s at %d", r.Action, r.Rate)
	}
	return ""
}

// group turns rows into the report's tables, sorted by table and row name.
func group(rows []model.Model) []TableRows {
	byTable := map[string][]Row{}
	for _, m := range rows {
		t := tableOf(m)
		byTable[t] = append(byTable[t], Row{Name: rowName(m), UUID: uuidOf(m), Summary: summary(m)})
	}
	out := make([]TableRows, 0, len(byTable))
	for t, rs := range byTable {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
		out = append(out, TableRows{Table: t, Rows: rs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}
