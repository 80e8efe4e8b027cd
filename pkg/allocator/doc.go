// Package allocator hands out node subnets and small integer ids.
//
// The allocators are pure in-memory bookkeeping: no I/O, no Kubernetes types.
// The controller that owns them rebuilds their state on start by calling Mark
// for every value already recorded in node annotations (so existing nodes keep
// their subnet and id across restarts and configuration changes), and only
// then calls Allocate for nodes that have none. Every method is safe for
// concurrent use.
//
// Every error returned by the package wraps one of the sentinel errors
// (ErrExhausted, ErrNotInRange, ErrHostPrefixMismatch, ErrConflict,
// ErrOwnerHasSubnet, ErrOwnerHasID, ErrInvalid), so callers branch with
// errors.Is; the *SubnetError and *IDError types carry the details for
// errors.As, and their messages name the value and the owners involved so
// they can be surfaced as-is in logs and events.
package allocator
