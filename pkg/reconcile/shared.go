package reconcile

// Shared is the one pattern for NB rows that several owners use: an
// Address_Set of the pods a selector matches, named by every policy with that
// selector; the default-deny port group every isolating policy of a
// namespace needs. Two owners cannot both insert a row with a unique name,
// and the first to stop must not delete what the other still uses. So the
// shared rows get an owner of their own, a synthetic one per key
// ("AddressSet/<hash of selector>"), alive while at least one object uses the
// key. The count is read from listers (an informer index from key to users)
// each time the key is reconciled, never kept as a counter that a missed
// event could skew.
//
// Users point at the shared rows with Refs or Parents naming Owner(key) like
// any other owner's rows; they declare the shared type in their After. When
// a user starts or stops using a key, its handler enqueues Owner(key) for the
// keys of the old and the new object (see controller.FanOut).
type Shared struct {
	// Name is the synthetic owner type ("AddressSet").
	Name string
	// Tables the shared rows live in.
	Tables []string
	// After names the owner types the shared rows point at.
	After []string
	// Keys lists every key in use now, for the first pass after start.
	Keys func() ([]string, error)
	// Users returns how many objects use key now.
	Users func(key string) (int, error)
	// Rows returns key's rows; called only while key has users.
	Rows func(key string) ([]Row, error)
	// Invalid reports bad input of the key's rows. Optional.
	Invalid func(key string, err *InvalidError)
}

// Owner is the synthetic owner of key's rows.
func (s Shared) Owner(key string) Owner { return Owner{Type: s.Name, Name: key} }

// OwnerType registers the shared rows with the reconciler.
func (s Shared) OwnerType() OwnerType {
	return OwnerType{
		Name:   s.Name,
		Tables: s.Tables,
		After:  s.After,
		List:   s.Keys,
		Desired: func(key string) ([]Row, error) {
			n, err := s.Users(key)
			if err != nil || n == 0 {
				return nil, err // no user left: the rows go
			}
			return s.Rows(key)
		},
		Invalid: s.Invalid,
	}
}
