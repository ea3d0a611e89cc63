package nodeagent

import (
	"testing"

	"github.com/podkit/podkit/objects"
)

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

// A pod refers to the ConfigMaps and Secrets its containers' env and
// envFrom name, ephemeral containers' too, so that it is synced again
// when one changes.
func TestRefersToEnvOfEveryContainer(t *testing.T) {
	env := func(cm, secret string) objects.Container {
		return objects.Container{Name: "c", Env: []objects.EnvVar{{Name: "A", ValueFrom: &objects.EnvVarSource{
			ConfigMapKeyRef: &objects.ConfigMapKeySelector{LocalObjectReference: objects.LocalObjectReference{Name: cm}, Key: "k"}}}},
			EnvFrom: []objects.EnvFromSource{{SecretRef: &objects.SecretEnvSource{LocalObjectReference: objects.LocalObjectReference{Name: secret}}}}}
	}
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p", Namespace: "default"}}
	p.Spec.InitContainers = []objects.Container{env("init-cm", "init-secret")}
	p.Spec.Containers = []objects.Container{env("main-cm", "main-secret")}
	p.Spec.EphemeralContainers = []objects.EphemeralContainer{{EphemeralContainerCommon: objects.EphemeralContainerCommon(env("debug-cm", "debug-secret"))}}
	for _, n := range []string{"init", "main", "debug"} {
		if !refersTo(p, "ConfigMap", "default", n+"-cm") || !refersTo(p, "Secret", "default", n+"-secret") {
			t.Errorf("the pod does not refer to the %s container's ConfigMap and Secret", n)
		}
	}
	if refersTo(p, "ConfigMap", "default", "other") || refersTo(p, "ConfigMap", "elsewhere", "debug-cm") {
		t.Errorf("the pod refers to a ConfigMap none of its containers names")
	}
}
