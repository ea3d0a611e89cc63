package dns

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// Resolver limits of glibc, which the kubelet enforces too.
const (
	maxNameservers = 3
	maxSearches    = 32
)

// PodDNSConfig returns the resolver configuration of pod as the kubelet
// builds it from the pod's dnsPolicy and dnsConfig:
//
//   - ClusterFirst (the default; for a hostNetwork pod it means Default)
//     and ClusterFirstWithHostNet: the cluster DNS servers, the search
//     domains <ns>.svc.<domain> svc.<domain> <domain> followed by the
//     host's, and ndots:5;
//   - Default: the host's configuration;
//   - None: only what dnsConfig gives.
//
// Then dnsConfig's nameservers and searches are appended and its options
// replace those of the same name. servers are the cluster DNS addresses
// pods reach (the host part of the Server's listen address), host the
// node's own resolver configuration. Without servers, ClusterFirst falls
// back to the host's, as the kubelet does without clusterDNS. A result
// without servers (the host's, when host names none) leaves the resolver
// configuration to the runtime, which gives the host's own.
func PodDNSConfig(pod *objects.Pod, domain string, servers []string, host runtime.DNSConfig) runtime.DNSConfig {
	domain = strings.Trim(domain, ".")
	if domain == "" {
		domain = DefaultClusterDomain
	}
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = objects.DNSClusterFirst
	}
	if policy == objects.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = objects.DNSDefault
	}
	if (policy == objects.DNSClusterFirst || policy == objects.DNSClusterFirstWithHostNet) && len(servers) == 0 {
		policy = objects.DNSDefault
	}
	var d runtime.DNSConfig
	switch policy {
	case objects.DNSClusterFirst, objects.DNSClusterFirstWithHostNet:
		d.Servers = slices.Clone(servers)
		ns := pod.Namespace
		if ns == "" {
			ns = "default"
		}
		d.Searches = appendNew([]string{ns + ".svc." + domain, "svc." + domain, domain}, host.Searches...)
		d.Options = []string{"ndots:5"}
	case objects.DNSDefault:
		d = host.Clone()
	}
	if c := pod.Spec.DNSConfig; c != nil {
		d.Servers = appendNew(d.Servers, c.Nameservers...)
		d.Searches = appendNew(d.Searches, c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			d.Options = slices.DeleteFunc(d.Options, func(s string) bool {
				n, _, _ := strings.Cut(s, ":")
				return n == o.Name
			})
			d.Options = append(d.Options, opt)
		}
	}
	if len(d.Servers) > maxNameservers {
		d.Servers = d.Servers[:maxNameservers]
	}
	if len(d.Searches) > maxSearches {
		d.Searches = d.Searches[:maxSearches]
	}
	return d
}

func appendNew(list []string, more ...string) []string {
	for _, m := range more {
		if m != "" && !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	return list
}

// HostDNSConfig reads a resolv.conf (usually /etc/resolv.conf) as the
// node's own resolver configuration, for PodDNSConfig's host argument.
// Loopback nameservers, such as systemd-resolved's stub at 127.0.0.53, are
// left out: a pod's loopback is its own. Options other than ndots, timeout
// and attempts are not kept.
func HostDNSConfig(path string) (runtime.DNSConfig, error) {
	cc, err := mdns.ClientConfigFromFile(path)
	if err != nil {
		return runtime.DNSConfig{}, err
	}
	var d runtime.DNSConfig
	if len(cc.Search) > 0 {
		d.Searches = cc.Search
	}
	for _, s := range cc.Servers {
		if a, err := netip.ParseAddr(s); err != nil || !a.IsLoopback() {
			d.Servers = append(d.Servers, s)
		}
	}
	for _, o := range []struct {
		name       string
		value, def int
	}{{"ndots", cc.Ndots, 1}, {"timeout", cc.Timeout, 5}, {"attempts", cc.Attempts, 2}} {
		if o.value != o.def {
			d.Options = append(d.Options, o.name+":"+strconv.Itoa(o.value))
		}
	}
	return d, nil
}
