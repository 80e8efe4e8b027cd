package reconcile

import "sync"

// memo spares plans the cost of cloning big parent rows. Finding another
// owner's row through the client index clones it, and checking that a child
// is still in its parent's set reads the whole set: for ovn_cluster_router
// with 1000 ports, or a port group of every pod, that is O(cluster) per
// plan. The memo keeps, per row, its uuid (valid while the cache still holds
// that uuid; uuids are never reused) and, per reference column, the set of
// members, built once from one clone.
//
// A member set is dropped whenever its row changes: by our commits (right
// after the transaction, before the next plan) and by anyone else's (the
// cache event). Between someone else's change and its event a plan may read
// the old set; the event then re-plans the owners concerned (a member
// removed from a set re-plans the member's owner), so the NB converges.
type memo struct {
	mu      sync.Mutex
	rows    map[target]string                     // row -> uuid
	members map[string]map[string]map[string]bool // uuid -> column -> member uuids
}

func (m *memo) uuid(t target) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.rows[t]
	return u, ok
}

func (m *memo) setUUID(t target, uuid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rows == nil {
		m.rows = map[target]string{}
	}
	m.rows[t] = uuid
}

func (m *memo) forgetRow(t target) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rows, t)
}

func (m *memo) set(uuid, column string) (map[string]bool, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.members[uuid][column]
	return s, ok
}

func (m *memo) setMembers(uuid, column string, members []string) map[string]bool {
	s := make(map[string]bool, len(members))
	for _, u := range members {
		s[u] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.members == nil {
		m.members = map[string]map[string]map[string]bool{}
	}
	if m.members[uuid] == nil {
		m.members[uuid] = map[string]map[string]bool{}
	}
	m.members[uuid][column] = s
	return s
}

// changed drops what is known of the sets of the rows with these uuids.
func (m *memo) changed(uuids ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range uuids {
		delete(m.members, u)
	}
}

// reset forgets everything: the cache was refilled from scratch.
func (m *memo) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows, m.members = nil, nil
}
