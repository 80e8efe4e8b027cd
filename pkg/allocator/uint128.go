package allocator

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// u128 is an address as a 128-bit unsigned integer. Subnet index i of a range
// is start + i<<(addressBits-hostPrefix); for IPv6 both the index and the
// shifted offset can exceed 64 bits, so the arithmetic is done here in fixed
// width instead of math/big to keep Allocate allocation-free.
type u128 struct{ hi, lo uint64 }

func addrToU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// toAddr converts back; ipv4 selects a 4-byte address (only the low 32 bits
// are used then).
func (v u128) toAddr(ipv4 bool) netip.Addr {
	if ipv4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(v.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], v.hi)
	binary.BigEndian.PutUint64(b[8:], v.lo)
	return netip.AddrFrom16(b)
}

// shl returns x<<s as a 128-bit value, for s in [0, 127].
func shl(x uint64, s uint) u128 {
	switch {
	case s == 0:
		return u128{lo: x}
	case s >= 64:
		return u128{hi: x << (s - 64)}
	default:
		return u128{hi: x >> (64 - s), lo: x << s}
	}
}

// add returns v+w modulo 2^128.
func (v u128) add(w u128) u128 {
	lo, carry := bits.Add64(v.lo, w.lo, 0)
	hi, _ := bits.Add64(v.hi, w.hi, carry)
	return u128{hi: hi, lo: lo}
}

// saturatingAdd returns a+b, or math.MaxUint64 if that overflows, so that
// capacities of huge IPv6 ranges stay meaningful ("more than we can count").
func saturatingAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return ^uint64(0)
	}
	return s
}
