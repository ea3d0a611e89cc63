// Package proxy forwards traffic for Services: to a ClusterIP and port,
// to a NodePort on the host, or to a LoadBalancer's host address, from any
// pod or from the host, to one of the Service's ready endpoints.
//
// A Proxier watches Services and Endpoints (and, while a Service uses a
// Local traffic policy or a trafficDistribution, Pods; while one uses a
// trafficDistribution, EndpointSlices and Nodes too) and hands the result,
// as a list of ServicePorts, to a DataPlane. Two data planes pass the same conformance
// suite (proxytest.Run):
//
//   - Userspace (this package) accepts connections and relays them; it
//     works everywhere, for TCP and UDP. It listens on the cluster IPs
//     themselves, so each must be a local address: addresses inside
//     127.0.0.0/8 always are on Linux; others it adds to a dummy interface
//     (netlink) when the process may (root with CAP_NET_ADMIN). Unprivileged,
//     use a service CIDR inside 127.0.0.0/8 (ipam.WithServiceCIDR): cluster
//     IPs are then reachable from the host but not from pods, which reach
//     Services through NodePorts and LoadBalancer addresses instead. It
//     does not serve external IPs, which it could listen on only by taking
//     the whole address from the machine that has it.
//   - nft (network/proxy/nft) programs nftables DNAT rules, as kube-proxy's
//     nftables mode does; it needs root with CAP_NET_ADMIN and forwards in
//     the kernel. It serves external IPs too, on the Service's ports only.
//
// Both remove every rule, address and listener they made when Run returns.
//
// # Load balancers
//
// The Proxier is the load balancer of the LoadBalancer Services without a
// loadBalancerClass, as k3s' service load balancer is: each port is served
// on the address given by WithLoadBalancerAddress, and status.loadBalancer
// names it. A Service with a class belongs to another implementation (the
// host program's own): the Proxier serves its cluster IP and node ports
// only, and leaves its status alone. loadBalancerSourceRanges (or, where
// that is empty, the service.beta.kubernetes.io/load-balancer-source-ranges
// annotation, as cloud providers read it) restrict the load balancer
// address, not the node ports, to the clients in them: the
// nftables data plane drops the others' packets before the DNAT, as
// kube-proxy's firewall chains; the userspace one resets their connections
// and ignores their datagrams. allocateLoadBalancerNodePorts false leaves
// the ports without node ports unless they name one (see network/ipam).
//
// # Traffic policies on one host
//
// Every node of an orchestrator runs in the host process, and one proxy
// serves them all. Kubernetes' traffic policies, which say which nodes'
// endpoints a node's proxy may use, read as follows:
//
//   - internalTrafficPolicy Local: a connection to a cluster IP from a pod
//     (its source address is a pod's IP; hostNetwork pods are the host) goes
//     only to the ready endpoints on that pod's node, by the nodeName of
//     the Service's Endpoints. When that node has none, the connection is
//     refused (a TCP reset, an ICMP port unreachable), where kube-proxy
//     drops it: the client learns at once instead of after its timeout. A
//     connection from the host itself, from any address that is no pod's,
//     comes from every node at once and may go to any ready endpoint. The
//     client pod need not be an endpoint of any Service: the Proxier knows
//     every running pod's IP and node.
//   - externalTrafficPolicy Local: the host receives NodePort, load
//     balancer and external IP traffic on behalf of every node, so every
//     ready endpoint is local and none is left out. What remains of the
//     policy is the client's source address: the nft data plane hands it
//     to the pod unchanged (no masquerade), except for connections from
//     pods, which are internal traffic, and from loopback addresses that
//     leave by another interface than lo, which could not be answered
//     otherwise. Userspace relays each connection from a socket of its own
//     and cannot keep the source: the pod sees a host address, with either
//     policy.
//
// # Traffic distribution
//
// A Service's spec.trafficDistribution (PreferSameZone, its deprecated
// alias PreferClose, or PreferSameNode) reaches the proxy as it reaches
// kube-proxy: through the hints the endpoint slice controller writes on
// the Service's EndpointSlices (see network.EndpointSliceController). The
// Proxier reads them from the slices of the Services that have the field,
// the zone of each node from its topology.kubernetes.io/zone label, and
// hands both to the data plane (Endpoint.ForZones and ForNodes,
// PodNodes.Zone). A connection from a pod then goes, as kube-proxy's
// CategorizeEndpoints decides for the pod's node (see Topology):
//
//   - when every ready endpoint has a node hint and some are hinted for
//     the pod's node, to one of those (PreferSameNode);
//   - else, when every ready endpoint has a zone hint and some are hinted
//     for the zone of the pod's node, to one of those;
//   - else to any ready endpoint.
//
// So a pod in a zone without endpoints, or on a node without a zone label,
// reaches them all, as does a connection from the host, which is every
// node at once. internalTrafficPolicy Local takes precedence for the
// cluster IP; connections from pods to a NodePort, load balancer address
// or external IP follow the hints whatever the externalTrafficPolicy, as
// kube-proxy's cluster endpoints do, while those from elsewhere reach every
// endpoint. Both data planes pass the same cases (proxytest).
//
// A LoadBalancer Service with externalTrafficPolicy Local has a
// spec.healthCheckNodePort (allocated by network/ipam). The Proxier serves
// HTTP on it on the host, as kube-proxy does, for load balancers to learn
// whether the node has endpoints: any request is answered 200 with
//
//	{"service":{"namespace":"ns","name":"n"},"localEndpoints":N,"serviceProxyHealthy":true}
//
// while the Service has N>0 ready endpoints (counted by address) and the
// last sync of the data plane succeeded, and 503 with the same body
// otherwise. Its header X-Load-Balancing-Endpoint-Weight carries N.
package proxy
