package nodeagent

import (
	"slices"
	"testing"
)

// As the kubelet, a kernel older than the one that namespaces a safe
// sysctl does not allow it.
func TestSafeSysctlsByKernel(t *testing.T) {
	for release, want := range map[string]struct {
		has, hasNot []string
	}{
		"6.1.0-18-amd64": {has: []string{"net.ipv4.tcp_rmem", "net.ipv4.tcp_fin_timeout", "kernel.shm_rmid_forced"}},
		"4.15.0":         {has: []string{"net.ipv4.tcp_rmem", "net.ipv4.tcp_slow_start_after_idle"}},
		"4.14.330":       {has: []string{"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_time"}, hasNot: []string{"net.ipv4.tcp_rmem"}},
		"4.5":            {has: []string{"net.ipv4.tcp_keepalive_probes"}, hasNot: []string{"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_notsent_lowat"}},
		"3.10.0-1160.el7": {has: []string{"net.ipv4.ip_local_port_range", "kernel.shm_rmid_forced"},
			hasNot: []string{"net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time"}},
		"": {has: []string{"net.ipv4.tcp_notsent_lowat"}}, // unknown: recent
	} {
		got := safeSysctls(release)
		for _, s := range want.has {
			if !slices.Contains(got, s) {
				t.Errorf("kernel %q: %s not safe, want it", release, s)
			}
		}
		for _, s := range want.hasNot {
			if slices.Contains(got, s) {
				t.Errorf("kernel %q: %s safe, want it not", release, s)
			}
		}
	}
}
