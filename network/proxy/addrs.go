package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/podkit/podkit/internal/owner"
)

// localAddrs makes cluster IPs local addresses, so that a userspace
// listener can bind them and traffic from the host and from pods (routed
// to the host) reaches it: it adds them as /32s to a dummy interface (a
// bridge without ports where the kernel lacks the dummy driver).
// Loopback addresses (127.0.0.0/8) are local on Linux already; addresses
// some interface has already are left alone.
type localAddrs struct {
	ifname  string
	link    netlink.Link
	created bool
	added   map[netip.Addr]bool
}

func newLocalAddrs(ifname string) *localAddrs {
	return &localAddrs{ifname: ifname, added: map[netip.Addr]bool{}}
}

func (l *localAddrs) sync(want []netip.Addr) error {
	need := map[netip.Addr]bool{}
	for _, ip := range want {
		if !ip.IsLoopback() {
			need[ip] = true
		}
	}
	var errs []error
	for ip := range l.added {
		if !need[ip] {
			if err := l.del(ip); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(need) == 0 {
		return errors.Join(errs...)
	}
	// The interface first: one a dead proxy left is taken over, its
	// addresses removed, before the host's are read (a failure shows
	// again in add).
	_ = l.ensureLink()
	local := hostAddrs()
	for ip := range need {
		if l.added[ip] || local[ip] {
			continue
		}
		if err := l.add(ip); err != nil {
			errs = append(errs, fmt.Errorf("cluster IP %s cannot be made a local address (run as root with CAP_NET_ADMIN, or use a service CIDR inside 127.0.0.0/8): %w", ip, err))
		}
	}
	return errors.Join(errs...)
}

func hostAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out[ip.Unmap()] = true
			}
		}
	}
	return out
}

func (l *localAddrs) ensureLink() error {
	if l.link != nil {
		return nil
	}
	mark, err := owner.Self()
	if err != nil {
		return err
	}
	link, err := netlink.LinkByName(l.ifname)
	if err == nil {
		if err := l.adopt(link, mark); err != nil {
			return err
		}
	} else {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return err
		}
		err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: l.ifname}})
		if errors.Is(err, unix.EOPNOTSUPP) {
			// A kernel without the dummy driver: a bridge without ports
			// holds local addresses as well.
			err = netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: l.ifname}})
		}
		switch {
		case errors.Is(err, unix.EOPNOTSUPP):
			// Neither: addresses on the loopback interface are just as
			// local, but outlive a process killed before it removes them.
			if link, err = netlink.LinkByName("lo"); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("add dummy interface %s: %w", l.ifname, err)
		default:
			l.created = true
			if link, err = netlink.LinkByName(l.ifname); err != nil {
				return err
			}
			if err := netlink.LinkSetAlias(link, ownerAlias+mark); err != nil {
				return err
			}
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	l.link = link
	return nil
}

// ownerAlias prefixes the alias of an interface a proxy created; the owner
// mark of its process follows (internal/owner).
const ownerAlias = "podkit proxy "

// adopt takes over link, an interface of the configured name that exists
// already, when a proxy made it and its process is gone (killed before it
// could remove it): it removes the dead process's addresses, marks the
// interface as this process's, and removes it at cleanup. Another's
// interface, a live proxy's or one the host made, is used as it is.
func (l *localAddrs) adopt(link netlink.Link, mark string) error {
	prev, ours := strings.CutPrefix(link.Attrs().Alias, ownerAlias)
	if !ours || owner.Alive(prev) {
		return nil
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if a.Scope == unix.RT_SCOPE_LINK {
			continue // IPv6 link-local, the kernel's
		}
		if err := netlink.AddrDel(link, &a); err != nil {
			return fmt.Errorf("remove stale address %s from %s: %w", a.IPNet, l.ifname, err)
		}
	}
	if err := netlink.LinkSetAlias(link, ownerAlias+mark); err != nil {
		return err
	}
	l.created = true
	return nil
}

func addrOf(ip netip.Addr) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())}}
}

func (l *localAddrs) add(ip netip.Addr) error {
	if err := l.ensureLink(); err != nil {
		return err
	}
	if err := netlink.AddrReplace(l.link, addrOf(ip)); err != nil {
		return err
	}
	l.added[ip] = true
	return nil
}

func (l *localAddrs) del(ip netip.Addr) error {
	delete(l.added, ip)
	if l.link == nil {
		return nil
	}
	if err := netlink.AddrDel(l.link, addrOf(ip)); err != nil {
		return fmt.Errorf("remove cluster IP %s from %s: %w", ip, l.ifname, err)
	}
	return nil
}

// cleanup removes every address added, and the interface if it was
// created.
func (l *localAddrs) cleanup() error {
	var errs []error
	for ip := range l.added {
		if err := l.del(ip); err != nil {
			errs = append(errs, err)
		}
	}
	if l.created && l.link != nil {
		if err := netlink.LinkDel(l.link); err != nil {
			errs = append(errs, fmt.Errorf("remove interface %s: %w", l.ifname, err))
		}
	}
	l.link, l.created = nil, false
	return errors.Join(errs...)
}
