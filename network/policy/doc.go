// Package policy enforces Kubernetes NetworkPolicies (networking.k8s.io/v1)
// in the kernel, with nftables, for the pods of podkit's Docker and
// containerd nodes.
//
// # Semantics
//
// Compute turns the store's Pods, Namespaces and NetworkPolicies into a
// Program with Kubernetes' meaning: a pod is isolated for ingress (egress)
// when a policy of its namespace selects it and has that policy type;
// then only what the union of the rules of those policies allows passes.
// An empty podSelector selects every pod of the namespace; a peer's
// podSelector alone means pods of the policy's namespace, a
// namespaceSelector alone every pod of the namespaces it selects ({}: all),
// both the pods matching in the namespaces matching; an ipBlock is its cidr
// less its excepts. A rule without peers matches every address, one
// without ports every port and protocol. A named port resolves against the
// container ports of the destination pod: the selected pod of an ingress
// rule, the peer pods of an egress rule (every pod when it names none).
// Only pods with an IPv4 address that do not use the host's network and
// have not terminated are selected or are peers. Program.Allows evaluates
// a Program as the kernel rules do, which is how the semantics are tested.
//
// Replies and further packets of allowed connections pass (conntrack
// established or related), and so does traffic between a pod and the host
// it runs on, as Kubernetes requires: such packets go through the host's
// input and output hooks, which the engine leaves alone: cluster DNS,
// served by the host on the pods' gateway, stays reachable under an egress
// default deny. A connection
// established before a policy denied it is not cut.
//
// # Kernel rules
//
// The engine's table (ip family, named by WithTableName) has two base
// chains on the forward hook, one per direction, so that an accept of the
// egress chain still leaves the packet to the ingress chain:
//
//	egress    ct state established,related accept
//	          ip saddr @eg-<policy>-sel jump eg-<policy>   (each policy)
//	          ip saddr @eg-isolated drop
//	ingress   the same with ip daddr, in-<policy>, @in-isolated
//	in-<p>    one accept per rule and port:
//	          [ip saddr @in-<p>-<i>-peer] [meta l4proto P th dport A-B] accept
//	          [ip saddr @in-<p>-<i>-peer] ip daddr . meta l4proto . th dport @in-<p>-<i>-named accept
//
// Sets hold addresses: the pods each policy selects, their union, each
// rule's peers (an interval set, so ipBlocks and pod addresses mix), and
// the resolved named ports. A pod coming or going changes only set
// elements; a policy changing rewrites its own chain and the base chains'
// jump lines. Each sync is one netlink batch, applied atomically, that
// carries only the differences; it follows a change of the store within
// milliseconds. Run replaces a table of the same name left by a process
// that died, and deletes its tables when its context ends.
//
// # How pod traffic meets the rules
//
// Pods of a node share one Linux bridge: podkit's Docker network, or
// containerd's CNI bridge. Packets between two pods on one bridge are
// bridged, not routed, and reach the ip family's forward hook only through
// br_netfilter with net.bridge.bridge-nf-call-iptables=1, which Docker and
// Kubernetes require and set. When that sysctl is 0, the engine adds a
// table of the bridge family with the same content (its forward hook sees
// bridged packets) if the kernel can track their connections
// (nf_conntrack_bridge); if it cannot, it sets the sysctl to 1 itself.
// Packets between bridges, to and from the outside, and to a Service's
// cluster IP are routed and meet the ip family's forward hook.
//
// With the service proxy's kernel data plane (network/proxy/nft), a
// packet to a cluster IP or node port is translated (DNAT) in prerouting,
// before forwarding, so policies apply to the real backend pod and see the
// real client pod. With the userspace data plane, the proxy in the host
// opens the connection to the backend: the backend sees the host, which
// its policies always allow, and the client's egress policies see a
// connection to the host, also allowed; so with the userspace data plane,
// traffic through Services is not subject to policies.
//
// # When policies are not enforced
//
// The engine enforces policies when this process may change nftables, the
// condition of the kernel data plane (nft.Available: root, or
// CAP_NET_ADMIN, on Linux). Otherwise, or with WithoutEnforcement,
// policies are stored but not enforced, as on a Kubernetes cluster whose
// network plugin does not enforce them, and the first one stored is met
// with one warning in the log. Pods of the fake runtime have no network:
// policies have nothing to act on there. IPv6 is not filtered; ipBlocks
// of IPv6 match nothing.
package policy
