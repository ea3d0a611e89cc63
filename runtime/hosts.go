package runtime

import "strings"

// HostsFile returns a pod's /etc/hosts as the kubelet writes it: its
// header, the loopback entries, the pod's IP (when ip is set) with its
// hostname (a fully qualified one, as a pod's with setHostnameAsFQDN,
// followed by its first label), then the section of its host aliases, one
// line per entry:
//
//	# Kubernetes-managed hosts file.
//	127.0.0.1	localhost
//	...
//	10.88.0.5	web-0
//
//	# Entries added by HostAliases.
//	10.1.2.3	foo.local	bar.local
//
// Backends that write the file themselves use it, so that every backend
// gives pods the same file; they pass HostsName's as hostname.
func HostsFile(ip, hostname string, aliases []HostAlias) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n")
	if ip != "" {
		b.WriteString(ip + "\t" + hostname)
		if short, _, ok := strings.Cut(hostname, "."); ok && short != "" {
			b.WriteString("\t" + short)
		}
		b.WriteByte('\n')
	}
	writeHostAliases(&b, aliases)
	return []byte(b.String())
}

// HostNetworkHostsFile returns the /etc/hosts of a HostNetwork pod as the
// kubelet writes it: its header, the node's own file, node, then the
// section of the pod's host aliases (see HostsFile).
func HostNetworkHostsFile(node []byte, aliases []HostAlias) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (host network).\n")
	b.Write(node)
	writeHostAliases(&b, aliases)
	return []byte(b.String())
}

func writeHostAliases(b *strings.Builder, aliases []HostAlias) {
	if len(aliases) == 0 {
		return
	}
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		b.WriteString(a.IP + "\t" + strings.Join(a.Hostnames, "\t") + "\n")
	}
}

// HostsName is the name of a pod's IP in its /etc/hosts (see HostsFile)
// for its hostname and SandboxConfig.Domain: with a domain, the
// hostname's first label qualified by it, so that a pod with a subdomain
// finds its own fully qualified name, as the kubelet writes it, whether
// or not its kernel hostname is that name (setHostnameAsFQDN); without,
// the hostname.
func HostsName(hostname, domain string) string {
	if domain == "" {
		return hostname
	}
	short, _, _ := strings.Cut(hostname, ".")
	return short + "." + domain
}
