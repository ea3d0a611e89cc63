package dns

import (
	"net"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// cluster answers a query for a name inside the cluster domain.
func (s *Server) cluster(req *mdns.Msg, q mdns.Question, name string) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = true, true
	apex := s.cfg.domain + "."
	var labels []string
	if name != apex {
		labels = strings.Split(strings.TrimSuffix(name, "."+apex), ".")
	}
	var (
		exists bool
		answer []mdns.RR
		extra  []mdns.RR
	)
	n := len(labels)
	switch {
	case n == 0:
		exists = true
		if q.Qtype == mdns.TypeSOA {
			answer = []mdns.RR{s.soa()}
		}
	case labels[n-1] == "svc":
		answer, extra, exists = s.serviceRecords(q, labels[:n-1])
	case labels[n-1] == "pod":
		switch n {
		case 1, 2:
			exists = true
		case 3:
			if ip, ok := dashedIP(labels[0]); ok {
				exists = true
				if q.Qtype == mdns.TypeA {
					answer = []mdns.RR{s.a(q.Name, ip)}
				}
			}
		}
	}
	switch {
	case !exists:
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{s.soa()}
	case len(answer) == 0:
		m.Ns = []mdns.RR{s.soa()}
	}
	if len(answer) > 0 && answer[0].Header().Rrtype == mdns.TypeCNAME && q.Qtype != mdns.TypeCNAME {
		// Resolve an ExternalName's target for resolvers that do not.
		if r := s.forward(targetQuery(req, answer[0].(*mdns.CNAME).Target), "udp"); r != nil && r.Rcode == mdns.RcodeSuccess {
			answer = append(answer, r.Answer...)
		}
	}
	m.Answer, m.Extra = answer, extra
	return m
}

func targetQuery(req *mdns.Msg, target string) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(target, req.Question[0].Qtype)
	m.RecursionDesired = true
	return m
}

func (s *Server) soa() mdns.RR {
	d := s.cfg.domain + "."
	return &mdns.SOA{Hdr: mdns.RR_Header{Name: d, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: s.cfg.ttl},
		Ns: "ns.dns." + d, Mbox: "hostmaster." + d, Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: s.cfg.ttl}
}

func (s *Server) a(name string, ip netip.Addr) mdns.RR {
	return &mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: s.cfg.ttl}, A: ip.AsSlice()}
}

// serviceRecords answers for the labels before "svc": [ns], [svc ns],
// [endpoint svc ns] or [_port _proto svc ns].
func (s *Server) serviceRecords(q mdns.Question, labels []string) (answer, extra []mdns.RR, exists bool) {
	n := len(labels)
	if n == 0 || n == 1 {
		return nil, nil, true // the svc zone and namespace zones
	}
	ns, name := labels[n-1], labels[n-2]
	svc := s.service(ns, name)
	if svc == nil {
		return nil, nil, false
	}
	switch n {
	case 2:
		if svc.Spec.Type == objects.ServiceTypeExternalName {
			target := mdns.Fqdn(strings.ToLower(svc.Spec.ExternalName))
			return []mdns.RR{&mdns.CNAME{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeCNAME, Class: mdns.ClassINET, Ttl: s.cfg.ttl}, Target: target}}, nil, true
		}
		switch q.Qtype {
		case mdns.TypeA:
			for _, ip := range s.serviceIPs(svc) {
				answer = append(answer, s.a(q.Name, ip))
			}
		case mdns.TypeSRV:
			for _, p := range svc.Spec.Ports {
				if p.Name != "" {
					a, e := s.srv(q.Name, svc, p)
					answer, extra = append(answer, a...), append(extra, e...)
				}
			}
		}
		return answer, extra, true
	case 3:
		var found bool
		for _, ep := range s.readyAddresses(svc) {
			if ep.host != labels[0] {
				continue
			}
			found = true
			if q.Qtype == mdns.TypeA {
				answer = append(answer, s.a(q.Name, ep.ip))
			}
		}
		return answer, nil, found
	case 4:
		port, proto := labels[0], labels[1]
		if !strings.HasPrefix(port, "_") || !strings.HasPrefix(proto, "_") {
			return nil, nil, false
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == port[1:] && strings.EqualFold(string(p.Protocol), proto[1:]) {
				if q.Qtype == mdns.TypeSRV {
					answer, extra = s.srv(q.Name, svc, p)
				}
				return answer, extra, true
			}
		}
	}
	return nil, nil, false
}

// srv returns the SRV records of one named port: the Service itself, or
// for a headless Service each ready endpoint, with their A records.
func (s *Server) srv(name string, svc *objects.Service, p objects.ServicePort) (answer, extra []mdns.RR) {
	svcName := svc.Name + "." + svc.Namespace + ".svc." + s.cfg.domain + "."
	hdr := mdns.RR_Header{Name: name, Rrtype: mdns.TypeSRV, Class: mdns.ClassINET, Ttl: s.cfg.ttl}
	if !svc.IsHeadless() {
		answer = []mdns.RR{&mdns.SRV{Hdr: hdr, Priority: 0, Weight: 100, Port: uint16(p.Port), Target: svcName}}
		for _, ip := range s.serviceIPs(svc) {
			extra = append(extra, s.a(svcName, ip))
		}
		return answer, extra
	}
	eps := s.readyAddresses(svc)
	for _, ep := range eps {
		port, ok := ep.ports[portKey{p.Name, p.Protocol}]
		if !ok {
			continue
		}
		target := ep.host + "." + svcName
		answer = append(answer, &mdns.SRV{Hdr: hdr, Weight: uint16(100 / max(1, len(eps))), Port: uint16(port), Target: target})
		extra = append(extra, s.a(target, ep.ip))
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

// serviceIPs returns a Service's ClusterIP, or its ready endpoints' IPs
// when it is headless.
func (s *Server) serviceIPs(svc *objects.Service) []netip.Addr {
	if !svc.IsHeadless() {
		if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && ip.Is4() {
			return []netip.Addr{ip}
		}
		return nil
	}
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, ep := range s.readyAddresses(svc) {
		if !seen[ep.ip] {
			seen[ep.ip] = true
			out = append(out, ep.ip)
		}
	}
	return out
}

type portKey struct {
	name  string
	proto objects.Protocol
}

type endpoint struct {
	ip    netip.Addr
	host  string // hostname, or the dashed IP
	ports map[portKey]int32
}

// readyAddresses returns the ready endpoints of svc (publishNotReady
// endpoints are listed as ready by the endpoints controller).
func (s *Server) readyAddresses(svc *objects.Service) []endpoint {
	o, ok := s.endpoints.Get(svc.Key())
	if !ok {
		return nil
	}
	var out []endpoint
	for _, ss := range o.(*objects.Endpoints).Subsets {
		ports := map[portKey]int32{}
		for _, p := range ss.Ports {
			ports[portKey{p.Name, p.Protocol}] = p.Port
		}
		for _, a := range ss.Addresses {
			ip, err := netip.ParseAddr(a.IP)
			if err != nil || !ip.Is4() {
				continue
			}
			host := a.Hostname
			if host == "" {
				host = strings.ReplaceAll(ip.String(), ".", "-")
			}
			out = append(out, endpoint{ip: ip, host: host, ports: ports})
		}
	}
	return out
}

// ptr answers a reverse query for a Service's ClusterIP or a headless
// endpoint's IP, or returns nil to forward it.
func (s *Server) ptr(req *mdns.Msg, q mdns.Question, name string) *mdns.Msg {
	parts := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa."), ".")
	if len(parts) != 4 {
		return nil
	}
	ip, err := netip.ParseAddr(parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0])
	if err != nil {
		return nil
	}
	var targets []string
	svcs, _ := s.services.List(store.ListOptions{}, nil)
	for _, o := range svcs {
		svc := o.(*objects.Service)
		svcName := svc.Name + "." + svc.Namespace + ".svc." + s.cfg.domain + "."
		if svc.Spec.ClusterIP == ip.String() {
			targets = append(targets, svcName)
		}
		if svc.IsHeadless() {
			for _, ep := range s.readyAddresses(svc) {
				if ep.ip == ip {
					targets = append(targets, ep.host+"."+svcName)
				}
			}
		}
	}
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
