// Package cni attaches pod network namespaces to a bridge network through
// the standard CNI plugins (bridge, host-local, loopback, portmap,
// firewall), with a cache and an IPAM directory of the caller's own.
//
// It drives libcni directly rather than through github.com/containerd/go-cni:
// go-cni always uses libcni's default cache directory (/var/lib/cni), which
// would mix podkit's attachments with those of every other CNI user of the
// machine and defeat the clean-up at start.
//
// A Network is safe for concurrent use; the plugins serialise what they
// share (host-local locks its directory, the iptables plugins take the
// xtables lock).
package cni

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CNIVersion is the spec version of the generated configurations: the
// newest that Debian 12's plugins (1.1.1) accept.
const CNIVersion = "1.0.0"

// DefaultPluginDirs are searched for plugin binaries unless Config says
// otherwise: Debian's package, then the upstream default.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Config describes the pod network.
type Config struct {
	// Name is the CNI network name; host-local keeps its allocations in
	// IPAMDir/Name.
	Name string
	// Bridge is the Linux bridge the plugin creates (at most 15 bytes).
	Bridge string
	// Subnet pods take their IPs from; the first address is the gateway.
	Subnet netip.Prefix
	// PluginDirs hold the plugin binaries (default DefaultPluginDirs).
	PluginDirs []string
	// CacheDir is libcni's cache of attachments (results and configs).
	CacheDir string
	// IPAMDir is host-local's data directory.
	IPAMDir string
	// MTU of the pod interfaces; 0 lets the plugin choose.
	MTU int
}

// PortMapping publishes a pod port on the node (portmap's capability).
type PortMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"` // "tcp", "udp" or "sctp"
	HostIP        string `json:"hostIP,omitempty"`
}

// Network is one configured pod network.
type Network struct {
	cfg  Config
	cni  *libcni.CNIConfig
	main *libcni.NetworkConfigList
	lo   *libcni.NetworkConfigList
}

// New checks cfg and the plugins and returns the network. Nothing is
// created on the host until the first Setup.
func New(cfg Config) (*Network, error) {
	if cfg.Name == "" || cfg.Bridge == "" || !cfg.Subnet.IsValid() || cfg.CacheDir == "" || cfg.IPAMDir == "" {
		return nil, errors.New("cni: Name, Bridge, Subnet, CacheDir and IPAMDir are required")
	}
	if len(cfg.Bridge) > unix.IFNAMSIZ-1 {
		return nil, fmt.Errorf("cni: bridge name %q is longer than %d bytes", cfg.Bridge, unix.IFNAMSIZ-1)
	}
	if !cfg.Subnet.Addr().Is4() || cfg.Subnet.Bits() > 30 {
		return nil, fmt.Errorf("cni: subnet %s: want an IPv4 prefix of /30 or larger", cfg.Subnet)
	}
	cfg.Subnet = cfg.Subnet.Masked()
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = DefaultPluginDirs
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap", "firewall"} {
		if !pluginExists(cfg.PluginDirs, p) {
			return nil, fmt.Errorf("cni: plugin %q not found in %v (Debian: apt-get install containernetworking-plugins)", p, cfg.PluginDirs)
		}
	}
	for _, d := range []string{cfg.CacheDir, cfg.IPAMDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("cni: %w", err)
		}
	}
	mainBytes, err := json.Marshal(confList(cfg))
	if err != nil {
		return nil, err
	}
	main, err := libcni.ConfListFromBytes(mainBytes)
	if err != nil {
		return nil, fmt.Errorf("cni: network config: %w", err)
	}
	lo, err := libcni.ConfListFromBytes([]byte(`{"cniVersion":"` + CNIVersion + `","name":"` + cfg.Name + `-lo","plugins":[{"type":"loopback"}]}`))
	if err != nil {
		return nil, fmt.Errorf("cni: loopback config: %w", err)
	}
	return &Network{cfg: cfg, cni: libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, cfg.CacheDir,
		// An explicit exec: libcni sets its default lazily, racing.
		&invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}, PluginDecoder: version.PluginDecoder{}}), main: main, lo: lo}, nil
}

func pluginExists(dirs []string, name string) bool {
	for _, d := range dirs {
		if fi, err := os.Stat(filepath.Join(d, name)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// confList is the plugin chain: a bridge with host-local IPAM and masquerade
// for traffic leaving the subnet, portmap for hostPorts, and firewall, which
// accepts the pod's traffic in the FORWARD chain where Docker has set its
// policy to DROP.
func confList(cfg Config) map[string]any {
	gw := cfg.Subnet.Addr().Next()
	bridge := map[string]any{
		"type": "bridge", "bridge": cfg.Bridge, "isGateway": true, "ipMasq": true, "hairpinMode": true,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": cfg.Subnet.String(), "gateway": gw.String()}}},
			"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
			"dataDir": cfg.IPAMDir,
		},
	}
	if cfg.MTU > 0 {
		bridge["mtu"] = cfg.MTU
	}
	return map[string]any{
		"cniVersion": CNIVersion,
		"name":       cfg.Name,
		"plugins": []any{
			bridge,
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
			map[string]any{"type": "firewall", "backend": "iptables"},
		},
	}
}

// Config returns the network's configuration, defaults filled in.
func (n *Network) Config() Config { return n.cfg }

// Gateway is the bridge's address, the pods' default route.
func (n *Network) Gateway() netip.Addr { return n.cfg.Subnet.Addr().Next() }

func (n *Network) runtimeConf(id, netns, ifName string, ports []PortMapping) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: ifName,
		Args: [][2]string{{"IgnoreUnknown", "1"}}}
	if ifName != "lo" {
		if ports == nil {
			ports = []PortMapping{}
		}
		rt.CapabilityArgs = map[string]any{"portMappings": ports}
	}
	return rt
}

// Setup attaches the network namespace at netns to the network as id (a
// CNI container id) and returns the address it got on eth0. On failure the
// partial attachment is torn down.
func (n *Network) Setup(ctx context.Context, id, netns string, ports []PortMapping) (netip.Addr, error) {
	if _, err := n.cni.AddNetworkList(ctx, n.lo, n.runtimeConf(id, netns, "lo", nil)); err != nil {
		return netip.Addr{}, fmt.Errorf("cni: loopback: %w", err)
	}
	res, err := n.cni.AddNetworkList(ctx, n.main, n.runtimeConf(id, netns, "eth0", ports))
	if err != nil {
		_ = n.Teardown(context.WithoutCancel(ctx), id, netns, ports)
		return netip.Addr{}, fmt.Errorf("cni: attach %s to %s: %w", id, n.cfg.Name, err)
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		_ = n.Teardown(context.WithoutCancel(ctx), id, netns, ports)
		return netip.Addr{}, fmt.Errorf("cni: result: %w", err)
	}
	for _, ipc := range r.IPs {
		if a, ok := netip.AddrFromSlice(ipc.Address.IP); ok && a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	_ = n.Teardown(context.WithoutCancel(ctx), id, netns, ports)
	return netip.Addr{}, fmt.Errorf("cni: attach %s: the plugins returned no IPv4 address", id)
}

// Teardown detaches id: the veth, the IP, the masquerade, port and firewall
// rules. netns may be gone already (the plugins then release what is
// outside it). Tearing down what is not attached does nothing.
func (n *Network) Teardown(ctx context.Context, id, netns string, ports []PortMapping) error {
	if netns != "" {
		if _, err := os.Stat(netns); err != nil {
			netns = "" // plugins treat an empty netns as "already gone"
		}
	}
	err := n.cni.DelNetworkList(ctx, n.main, n.runtimeConf(id, netns, "eth0", ports))
	if err != nil {
		return fmt.Errorf("cni: detach %s from %s: %w", id, n.cfg.Name, err)
	}
	if netns != "" {
		if err := n.cni.DelNetworkList(ctx, n.lo, n.runtimeConf(id, netns, "lo", nil)); err != nil {
			return fmt.Errorf("cni: loopback of %s: %w", id, err)
		}
	}
	return nil
}

// Attachment is an attachment recorded in the cache.
type Attachment struct {
	ID    string
	NetNS string
	Ports []PortMapping
}

// Attachments returns the attachments of this network recorded in the
// cache whose container id satisfies keep (all when keep is nil).
func (n *Network) Attachments(keep func(id string) bool) ([]Attachment, error) {
	atts, err := n.cni.GetCachedAttachments("")
	if err != nil {
		return nil, fmt.Errorf("cni: reading the cache: %w", err)
	}
	var out []Attachment
	seen := map[string]bool{}
	for _, a := range atts {
		if (a.Network != n.main.Name && a.Network != n.lo.Name) || seen[a.ContainerID] || (keep != nil && !keep(a.ContainerID)) {
			continue
		}
		seen[a.ContainerID] = true
		at := Attachment{ID: a.ContainerID, NetNS: a.NetNS}
		if pm, ok := a.CapabilityArgs["portMappings"]; ok {
			b, _ := json.Marshal(pm)
			_ = json.Unmarshal(b, &at.Ports)
		}
		out = append(out, at)
	}
	return out, nil
}

// Allocations returns the container ids holding an address in this
// network's host-local directory, by address, among those keep accepts.
func (n *Network) Allocations(keep func(id string) bool) (map[netip.Addr]string, error) {
	dir := filepath.Join(n.cfg.IPAMDir, n.cfg.Name)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cni: %w", err)
	}
	out := map[netip.Addr]string{}
	for _, e := range ents {
		a, err := netip.ParseAddr(e.Name())
		if err != nil {
			continue // lock, last_reserved_ip.N
		}
		id, err := firstLine(filepath.Join(dir, e.Name()))
		if err != nil || (keep != nil && !keep(id)) {
			continue
		}
		out[a] = id
	}
	return out, nil
}

func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Scan()
	return strings.TrimSpace(s.Text()), s.Err()
}

// Release frees the host-local allocations of id without calling the
// plugins: for allocations whose cache entry is gone, so that no DEL can
// find them.
func (n *Network) Release(id string) error {
	dir := filepath.Join(n.cfg.IPAMDir, n.cfg.Name)
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cni: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("cni: locking %s: %w", dir, err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	allocs, err := n.Allocations(func(x string) bool { return x == id })
	if err != nil {
		return err
	}
	for a := range allocs {
		if err := os.Remove(filepath.Join(dir, a.String())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cni: %w", err)
		}
	}
	return nil
}

// RemoveBridge deletes the network's bridge, which the bridge plugin keeps
// after its last attachment is gone. It does nothing when the bridge does
// not exist. Call it only when no pod is attached.
func (n *Network) RemoveBridge() error {
	l, err := netlink.LinkByName(n.cfg.Bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("cni: bridge %s: %w", n.cfg.Bridge, err)
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("cni: deleting bridge %s: %w", n.cfg.Bridge, err)
	}
	return nil
}
