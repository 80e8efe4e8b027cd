package cni

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ovnkube/ovnkube/pkg/node/internal/nsenter"
)

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ifreqEthtool is struct ifreq with the ifr_data member of the union; the
// padding makes it the kernel's 40 bytes.
type ifreqEthtool struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte
}

// SetTxChecksum turns TX checksum offload of ifName in namespace ns on or
// off with the legacy ETHTOOL_STXCSUM ioctl (no ethtool binary needed).
// The userspace (netdev) datapath forwards a pod's packets without
// completing offloaded checksums, so TCP from pods breaks unless it is off.
func SetTxChecksum(ns netns.NsHandle, ifName string, on bool) error {
	v := uint32(0)
	if on {
		v = 1
	}
	_, err := ethtool(ns, ifName, unix.ETHTOOL_STXCSUM, v)
	return err
}

// TxChecksum reports whether TX checksum offload of ifName in ns is on.
func TxChecksum(ns netns.NsHandle, ifName string) (bool, error) {
	v, err := ethtool(ns, ifName, unix.ETHTOOL_GTXCSUM, 0)
	return v != 0, err
}

func ethtool(ns netns.NsHandle, ifName string, cmd, data uint32) (uint32, error) {
	if len(ifName) > maxIfName {
		return 0, fmt.Errorf("interface name %q too long", ifName)
	}
	fd, err := socketIn(ns)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ev := ethtoolValue{cmd: cmd, data: data}
	var ifr ifreqEthtool
	copy(ifr.name[:], ifName)
	ifr.data = unsafe.Pointer(&ev)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return 0, fmt.Errorf("ethtool ioctl %#x on %s: %w", cmd, ifName, errno)
	}
	runtime.KeepAlive(&ev)
	return ev.data, nil
}

// socketIn opens a datagram socket inside namespace ns (the ioctl acts on
// the socket's namespace). A socket keeps the namespace it was made in, so
// only its creation needs to happen there.
func socketIn(ns netns.NsHandle) (int, error) {
	fd := -1
	err := nsenter.Do(ns, func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return fmt.Errorf("socket in pod netns: %w", err)
		}
		return nil
	})
	if err != nil && fd >= 0 {
		unix.Close(fd)
		fd = -1
	}
	return fd, err
}
