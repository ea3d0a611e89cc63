package runtime_test

import (
	"testing"

	"github.com/podkit/podkit/runtime"
)

// The files are the kubelet's, byte for byte (managedHostsFileContent and
// nodeHostsFileContent in pkg/kubelet/kubelet_pods.go).
func TestHostsFile(t *testing.T) {
	aliases := []runtime.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar.local"}}, {IP: "2001:db8::1", Hostnames: []string{"v6"}}}
	const local = "# Kubernetes-managed hosts file.\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n"
	const section = "\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n2001:db8::1\tv6\n"
	node := []byte("127.0.0.1 localhost\n192.168.1.5 node1\n")
	for _, tc := range []struct {
		name, got, want string
	}{
		{"pod", string(runtime.HostsFile("10.88.0.5", "web-0", aliases)), local + "10.88.0.5\tweb-0\n" + section},
		{"pod without aliases", string(runtime.HostsFile("10.88.0.5", "web-0", nil)), local + "10.88.0.5\tweb-0\n"},
		{"pod with an FQDN", string(runtime.HostsFile("10.88.0.5", "web-0.web.default.svc.cluster.local", nil)),
			local + "10.88.0.5\tweb-0.web.default.svc.cluster.local\tweb-0\n"},
		{"pod without an IP", string(runtime.HostsFile("", "web-0", aliases)), local + section},
		{"host network", string(runtime.HostNetworkHostsFile(node, aliases)), "# Kubernetes-managed hosts file (host network).\n" + string(node) + section},
		{"host network without aliases", string(runtime.HostNetworkHostsFile(node, nil)), "# Kubernetes-managed hosts file (host network).\n" + string(node)},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, tc.got, tc.want)
		}
	}
}
