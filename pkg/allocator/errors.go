package allocator

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sentinel errors. They describe the category of a failure; the concrete
// error (a *SubnetError, an *IDError, or a wrapped configuration error) says
// which value and which owners were involved.
var (
	// ErrExhausted means every subnet or id is taken. Only releasing an owner
	// or widening the configured range makes room again.
	ErrExhausted = errors.New("allocator: no free value left")

	// ErrNotInRange means a value being marked lies outside every configured
	// range, typically because the cluster subnet was narrowed (or a family
	// removed) after the value was allocated.
	ErrNotInRange = errors.New("allocator: value outside the configured ranges")

	// ErrHostPrefixMismatch means a subnet being marked lies inside a
	// configured range but its prefix length differs from the range's host
	// prefix: the host prefix was changed, which cannot be done in place.
	ErrHostPrefixMismatch = errors.New("allocator: subnet prefix length differs from the host prefix")

	// ErrConflict means a value being marked is already held by another owner.
	ErrConflict = errors.New("allocator: value already held by another owner")

	// ErrOwnerHasSubnet means an owner being marked already holds a different
	// subnet of the same family; an owner holds at most one per family.
	ErrOwnerHasSubnet = errors.New("allocator: owner already holds a different subnet")

	// ErrOwnerHasID means an owner being marked already holds a different id.
	ErrOwnerHasID = errors.New("allocator: owner already holds a different id")

	// ErrInvalid means the caller passed something malformed: a bad range
	// configuration, an empty owner, an invalid or unaligned subnet.
	ErrInvalid = errors.New("allocator: invalid argument")
)

// SubnetError is the error returned by subnet allocation and reservation. It
// unwraps to Kind, one of the sentinel errors, and keeps the values involved
// so callers can act on them without parsing the message.
type SubnetError struct {
	// Kind is the sentinel error describing the failure category.
	Kind error
	// Owner is the owner the operation was performed for.
	Owner string
	// Subnet is the subnet being reserved (zero for ErrExhausted).
	Subnet netip.Prefix
	// OtherOwner is the current holder of Subnet (ErrConflict only).
	OtherOwner string
	// OtherSubnet is the subnet Owner already holds (ErrOwnerHasSubnet only).
	OtherSubnet netip.Prefix

	msg string
}

func (e *SubnetError) Error() string { return e.msg }

// Unwrap returns Kind so errors.Is(err, ErrConflict) and friends work.
func (e *SubnetError) Unwrap() error { return e.Kind }

// IDError is the error returned by id allocation and reservation; it unwraps
// to Kind, one of the sentinel errors.
type IDError struct {
	// Kind is the sentinel error describing the failure category.
	Kind error
	// Owner is the owner the operation was performed for.
	Owner string
	// ID is the id being reserved (meaningless for ErrExhausted).
	ID int
	// OtherOwner is the current holder of ID (ErrConflict only).
	OtherOwner string
	// OtherID is the id Owner already holds (ErrOwnerHasID only).
	OtherID int

	msg string
}

func (e *IDError) Error() string { return e.msg }

// Unwrap returns Kind so errors.Is works.
func (e *IDError) Unwrap() error { return e.Kind }

func subnetErr(kind error, owner string, subnet netip.Prefix, format string, args ...any) *SubnetError {
	return &SubnetError{Kind: kind, Owner: owner, Subnet: subnet, msg: fmt.Sprintf(format, args...)}
}

func idErr(kind error, owner string, id int, format string, args ...any) *IDError {
	return &IDError{Kind: kind, Owner: owner, ID: id, msg: fmt.Sprintf(format, args...)}
}

// configErr reports a bad constructor argument. It wraps ErrInvalid.
func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
