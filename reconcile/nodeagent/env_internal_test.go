package nodeagent

import "testing"

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "B": "$(A)"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"plain":          "plain",
		"$(A)":           "x",
		"a$(A)b$(A)":     "axbx",
		"$(B)":           "$(A)",
		"$(MISSING)":     "$(MISSING)",
		"$$(A)":          "$(A)",
		"$$":             "$",
		"$":              "$",
		"$(A":            "$(A",
		"cost $5":        "cost $5",
		"$(A)$(MISSING)": "x$(MISSING)",
		// As Kubernetes' expansion.Expand: an unclosed $( is written out
		// and the rest of the string is still expanded.
		"$(B $$":             "$(B $",
		"echo $(oops $$HOME": "echo $(oops $HOME",
		"$( $(A)":            "$( $(A)", // the first ) closes the first $(
		"a$(":                "a$(",
		"$$$(A)$":            "$x$",
		"$é $(A)":            "$é x",
		"$()":                "$()",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestImageTagAndRegistry(t *testing.T) {
	for img, want := range map[string][2]string{
		"nginx":                      {"latest", "docker.io"},
		"nginx:1.27":                 {"1.27", "docker.io"},
		"localhost:5000/app":         {"latest", "localhost:5000"},
		"ghcr.io/o/app@sha256:abcd":  {"", "ghcr.io"},
		"registry.local/team/app:v2": {"v2", "registry.local"},
	} {
		if tag, host := imageTag(img), registryHost(img); tag != want[0] || host != want[1] {
			t.Errorf("%s: tag %q host %q, want %q %q", img, tag, host, want[0], want[1])
		}
	}
}
