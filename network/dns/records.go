package dns

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// cluster answers a query for a name inside the cluster domain.
func (s *Server) cluster(req *mdns.Msg, q mdns.Question) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = true, true
	answer, extra, exists := s.lookup(q.Name, q.Qtype, nil)
	switch {
	case !exists:
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{s.soa()}
	case len(answer) == 0:
		m.Ns = []mdns.RR{s.soa()}
	}
	m.Answer, m.Extra = answer, extra
	return m
}

// maxCNAMEs bounds a chain of CNAMEs followed inside the cluster domain,
// as CoreDNS bounds it.
const maxCNAMEs = 8

// lookup returns the records of type qtype of name, inside the cluster
// domain, and whether name exists. An ExternalName Service's CNAME comes
// with its target's records, for stub resolvers that do not follow it:
// the upstreams' for a target outside the domain and, as CoreDNS does,
// lookup's own for one inside, which only this server knows. A chain
// inside the domain is answered only if it ends in records, not in a
// loop nor after more than maxCNAMEs; followed holds the names whose
// CNAMEs led to name.
func (s *Server) lookup(name string, qtype uint16, followed []string) (answer, extra []mdns.RR, exists bool) {
	answer, extra, exists = s.records(name, qtype)
	if len(answer) == 0 || qtype == mdns.TypeCNAME {
		return answer, extra, exists
	}
	cname, ok := answer[0].(*mdns.CNAME)
	if !ok {
		return answer, extra, exists
	}
	if !mdns.IsSubDomain(s.cfg.domain+".", cname.Target) {
		if r := s.forward(targetQuery(cname.Target, qtype), "udp"); r != nil && r.Rcode == mdns.RcodeSuccess {
			answer = append(answer, r.Answer...)
		}
		return answer, extra, true
	}
	followed = append(followed, strings.ToLower(name))
	if len(followed) > maxCNAMEs || slices.Contains(followed, cname.Target) {
		return nil, nil, true
	}
	next, extra, _ := s.lookup(cname.Target, qtype, followed)
	if len(next) == 0 {
		return nil, nil, true
	}
	return append(answer, next...), extra, true
}

func targetQuery(target string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(target, qtype)
	m.RecursionDesired = true
	return m
}

// records returns the records of type qtype of name, inside the cluster
// domain, and whether name exists. As in CoreDNS, no name exists in a
// namespace that does not.
func (s *Server) records(name string, qtype uint16) (answer, extra []mdns.RR, exists bool) {
	apex := s.cfg.domain + "."
	var labels []string
	if lower := strings.ToLower(name); lower != apex {
		labels = strings.Split(strings.TrimSuffix(lower, "."+apex), ".")
	}
	n := len(labels)
	switch {
	case n == 0:
		if qtype == mdns.TypeSOA {
			answer = []mdns.RR{s.soa()}
		}
		return answer, nil, true
	case labels[n-1] != "svc" && labels[n-1] != "pod":
		return nil, nil, false
	case n == 1:
		return nil, nil, true // the svc and pod zones
	case !s.namespaceExists(labels[n-2]):
		return nil, nil, false
	case labels[n-1] == "svc":
		return s.serviceRecords(name, qtype, labels[:n-1])
	}
	switch n {
	case 2:
		return nil, nil, true // a namespace's pod zone
	case 3:
		if ip, ok := dashedIP(labels[0]); ok {
			if qtype == mdns.TypeA {
				answer = []mdns.RR{s.a(name, ip)}
			}
			return answer, nil, true
		}
	}
	return nil, nil, false
}

func (s *Server) namespaceExists(ns string) bool {
	_, ok := s.namespaces.Get(objects.Key{Name: ns})
	return ok
}

func (s *Server) soa() mdns.RR {
	d := s.cfg.domain + "."
	return &mdns.SOA{Hdr: mdns.RR_Header{Name: d, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: s.cfg.ttl},
		Ns: "ns.dns." + d, Mbox: "hostmaster." + d, Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: s.cfg.ttl}
}

func (s *Server) a(name string, ip netip.Addr) mdns.RR {
	return &mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: s.cfg.ttl}, A: ip.AsSlice()}
}

// serviceRecords answers for the labels before "svc" of an existing
// namespace: [ns], [svc ns], [endpoint svc ns] or [_port _proto svc ns].
func (s *Server) serviceRecords(name string, qtype uint16, labels []string) (answer, extra []mdns.RR, exists bool) {
	n := len(labels)
	if n == 1 {
		return nil, nil, true // a namespace's zone
	}
	if n > 4 {
		return nil, nil, false
	}
	svc := s.service(labels[n-1], labels[n-2])
	if svc == nil {
		return nil, nil, false
	}
	var host, port, proto string
	switch n {
	case 3:
		host = labels[0]
	case 4:
		if !strings.HasPrefix(labels[0], "_") || !strings.HasPrefix(labels[1], "_") {
			return nil, nil, false
		}
		port, proto = labels[0][1:], labels[1][1:]
	}
	if svc.Spec.Type == objects.ServiceTypeExternalName {
		// As CoreDNS: any _port._proto name under the Service has its
		// CNAME, no endpoint name exists, and SRV queries get no CNAME.
		switch {
		case host != "":
			return nil, nil, false
		case qtype == mdns.TypeSRV:
			return nil, nil, true
		}
		target := mdns.Fqdn(strings.ToLower(svc.Spec.ExternalName))
		return []mdns.RR{&mdns.CNAME{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeCNAME, Class: mdns.ClassINET, Ttl: s.cfg.ttl}, Target: target}}, nil, true
	}
	targets, exists := s.targets(svc, host, port, proto)
	switch qtype {
	case mdns.TypeA:
		seen := map[netip.Addr]bool{}
		for _, t := range targets {
			if !seen[t.ip] {
				seen[t.ip] = true
				answer = append(answer, s.a(name, t.ip))
			}
		}
	case mdns.TypeSRV:
		answer, extra = s.srv(name, targets)
	}
	return answer, extra, exists
}

// target is what a Service's name stands for, as one of CoreDNS'
// msg.Service: an address, a port served there (0 for none) and the name
// an SRV record gives for them.
type target struct {
	ip   netip.Addr
	port int32
	name string
}

// targets returns what svc's name stands for, narrowed to an endpoint's
// hostname or to a port name and protocol (empty for any), and whether
// the name exists. Those of an endpoint or of a headless Service are the
// ready endpoints, with each of their ports; those of a ClusterIP Service
// its ClusterIP, with each of its ports.
func (s *Server) targets(svc *objects.Service, host, port, proto string) (out []target, exists bool) {
	svcName := svc.Name + "." + svc.Namespace + ".svc." + s.cfg.domain + "."
	if svc.IsHeadless() || host != "" {
		for _, ep := range s.readyAddresses(svc) {
			if host != "" && ep.host != host {
				continue
			}
			if len(ep.ports) == 0 && port == "" && proto == "" {
				out = append(out, target{ip: ep.ip, name: ep.host + "." + svcName})
			}
			for _, p := range ep.ports {
				if portMatches(p.Name, p.Protocol, port, proto) {
					out = append(out, target{ip: ep.ip, port: p.Port, name: ep.host + "." + svcName})
				}
			}
		}
		return out, len(out) > 0
	}
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	for _, p := range svc.Spec.Ports {
		if !portMatches(p.Name, p.Protocol, port, proto) {
			continue
		}
		exists = true
		if err == nil && ip.Is4() {
			out = append(out, target{ip: ip, port: p.Port, name: svcName})
		}
	}
	return out, exists
}

// portMatches reports whether a port is the one a query names by port name
// and protocol, either empty for any.
func portMatches(name string, protocol objects.Protocol, port, proto string) bool {
	return (port == "" || port == name) && (proto == "" || strings.EqualFold(proto, string(protocol)))
}

// srv returns an SRV record for each target with a port, with equal
// weights, and the address records of their names, without repeats, as
// CoreDNS does.
func (s *Server) srv(name string, targets []target) (answer, extra []mdns.RR) {
	targets = slices.DeleteFunc(slices.Clone(targets), func(t target) bool { return t.port == 0 })
	hdr := mdns.RR_Header{Name: name, Rrtype: mdns.TypeSRV, Class: mdns.ClassINET, Ttl: s.cfg.ttl}
	weight := uint16(max(1, 100/max(1, len(targets))))
	type key struct {
		name string
		port int32
		ip   netip.Addr
	}
	done := map[key]bool{}
	for _, t := range targets {
		if k := (key{name: t.name, port: t.port}); !done[k] {
			done[k] = true
			answer = append(answer, &mdns.SRV{Hdr: hdr, Weight: weight, Port: uint16(t.port), Target: t.name})
		}
		if k := (key{name: t.name, ip: t.ip}); !done[k] {
			done[k] = true
			extra = append(extra, s.a(t.name, t.ip))
		}
	}
	return answer, extra
}

func (s *Server) service(ns, name string) *objects.Service {
	o, ok := s.services.Get(objects.Key{Namespace: ns, Name: name})
	if !ok {
		return nil
	}
	return o.(*objects.Service)
}

type endpoint struct {
	ip    netip.Addr
	host  string // hostname, or the dashed IP
	ports []objects.EndpointPort
}

// readyAddresses returns the ready endpoints of svc.
func (s *Server) readyAddresses(svc *objects.Service) []endpoint {
	o, ok := s.endpoints.Get(svc.Key())
	if !ok {
		return nil
	}
	return addresses(o.(*objects.Endpoints))
}

// addresses returns the ready endpoints of eps (publishNotReady endpoints
// are listed as ready by the endpoints controller).
func addresses(eps *objects.Endpoints) []endpoint {
	var out []endpoint
	for _, ss := range eps.Subsets {
		for _, a := range ss.Addresses {
			ip, err := netip.ParseAddr(a.IP)
			if err != nil || !ip.Is4() {
				continue
			}
			host := a.Hostname
			if host == "" {
				host = strings.ReplaceAll(ip.String(), ".", "-")
			}
			out = append(out, endpoint{ip: ip, host: host, ports: ss.Ports})
		}
	}
	return out
}

// ptr answers a reverse query as CoreDNS does: a ClusterIP names its
// Service; any other address names each ready endpoint with it, of any
// Service, headless or not. It returns nil to forward an address of none.
func (s *Server) ptr(req *mdns.Msg, q mdns.Question, name string) *mdns.Msg {
	parts := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa."), ".")
	if len(parts) != 4 {
		return nil
	}
	ip, err := netip.ParseAddr(parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0])
	if err != nil {
		return nil
	}
	targets := s.reverse(ip)
	if len(targets) == 0 {
		return nil
	}
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = true, true
	for _, t := range targets {
		m.Answer = append(m.Answer, &mdns.PTR{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: s.cfg.ttl}, Ptr: t})
	}
	return m
}

// reverse returns the names of ip for ptr.
func (s *Server) reverse(ip netip.Addr) []string {
	svcs, _ := s.services.List(store.ListOptions{}, nil)
	for _, o := range svcs {
		svc := o.(*objects.Service)
		if cip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && cip == ip {
			return []string{svc.Name + "." + svc.Namespace + ".svc." + s.cfg.domain + "."}
		}
	}
	var names []string
	eps, _ := s.endpoints.List(store.ListOptions{}, nil)
	for _, o := range eps {
		e := o.(*objects.Endpoints)
		for _, ep := range addresses(e) {
			n := ep.host + "." + e.Name + "." + e.Namespace + ".svc." + s.cfg.domain + "."
			if ep.ip == ip && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// dashedIP parses "10-1-0-5" as 10.1.0.5.
func dashedIP(label string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", "."))
	return ip, err == nil && ip.Is4()
}

// ServerAddr returns the host part of a listen address, as a pod's
// resolv.conf names it ("172.17.0.1:53" gives "172.17.0.1").
func ServerAddr(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	return host
}
