package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// The table gives each proxied target its median ratio over the rounds,
// the rounds' lowest and highest ratios beside it, and its verdict by the
// median.
func TestPrintTableRatioRange(t *testing.T) {
	direct := result{RPS: 1000}
	at := func(rps ...float64) []sample {
		var ss []sample
		for _, r := range rps {
			ss = append(ss, sample{res: result{RPS: r}, direct: direct})
		}
		return ss
	}
	targets := []target{{name: "direct"}, {name: "clusterip/nftables", bar: kernelBar}, {name: "ingress", bar: ingressBar}}
	through := map[string][]sample{
		"direct":             at(1000, 1000, 1000),
		"clusterip/nftables": at(1060, 880, 970),
		"ingress":            at(420, 480, 450),
	}
	var out bytes.Buffer
	printTable(&out, options{}, targets, through, map[string][]sample{})
	for _, want := range []string{
		`clusterip/nftables\s+970\s+0\.97\s+0\.88-1\.06\s.*ok \(ratio >= 0\.95\)`,
		`ingress\s+450\s+0\.45\s+0\.42-0\.48\s.*MISS: ratio < 0\.50`,
		`direct\s+1000\s+1\s+-\s`,
	} {
		require.Regexp(t, regexp.MustCompile(want), out.String())
	}
}
