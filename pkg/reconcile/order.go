package reconcile

import (
	"fmt"
	"sort"
	"strings"
)

// orderTypes indexes the owner types by name and sorts them so every type
// comes after the types it names in After (ties by name). Unknown names and
// cycles are errors: both would leave the first pass waiting on rows nobody
// plans first.
func orderTypes(types []OwnerType) (map[string]*OwnerType, []*OwnerType, error) {
	byName := make(map[string]*OwnerType, len(types))
	for i := range types {
		t := &types[i]
		if t.Name == "" || t.Desired == nil || len(t.Tables) == 0 {
			return nil, nil, fmt.Errorf("owner type %q needs a name, tables and Desired", t.Name)
		}
		if _, dup := byName[t.Name]; dup {
			return nil, nil, fmt.Errorf("owner type %q registered twice", t.Name)
		}
		byName[t.Name] = t
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []*OwnerType
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("owner types depend on each other in a cycle: %s", strings.Join(append(path, name), " -> "))
		}
		state[name] = visiting
		t := byName[name]
		after := append([]string(nil), t.After...)
		sort.Strings(after)
		for _, a := range after {
			if _, ok := byName[a]; !ok {
				return fmt.Errorf("owner type %s comes after %q, which is not registered", name, a)
			}
			if err := visit(a, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, t)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, nil, err
		}
	}
	return byName, order, nil
}

// ancestors returns, per owner type, every type it comes after, directly or
// through others.
func ancestors(order []*OwnerType, byName map[string]*OwnerType) map[string]map[string]bool {
	out := make(map[string]map[string]bool, len(order))
	for _, t := range order { // dependencies first, so theirs are complete
		set := map[string]bool{}
		for _, a := range t.After {
			set[a] = true
			for aa := range out[a] {
				set[aa] = true
			}
		}
		out[t.Name] = set
	}
	return out
}
