package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIngressClass(t *testing.T) {
	c := &IngressClass{
		ObjectMeta: ObjectMeta{Name: "podkit", Annotations: map[string]string{AnnotationIsDefaultIngressClass: "true"}},
		Spec: IngressClassSpec{Controller: "podkit.dev/ingress",
			Parameters: &IngressClassParametersReference{APIGroup: ptrTo("podkit.dev"), Kind: "IngressParameters", Name: "default"}},
	}
	c.Default()
	assert.Equal(t, IngressClassParametersReferenceScopeCluster, *c.Spec.Parameters.Scope)
	require.NoError(t, validateThroughScheme(c.DeepCopy()))

	cases := []struct {
		name   string
		mutate func(*IngressClass)
		want   []string
	}{
		{"valid without parameters", func(c *IngressClass) { c.Spec.Parameters = nil }, nil},
		{"valid namespaced", func(c *IngressClass) {
			c.Spec.Parameters.Scope = ptrTo(IngressClassParametersReferenceScopeNamespace)
			c.Spec.Parameters.Namespace = ptrTo("ingress")
		}, nil},
		{"controller required", func(c *IngressClass) { c.Spec.Controller = "" }, []string{"spec.controller: Required value"}},
		{"controller not domain-prefixed", func(c *IngressClass) { c.Spec.Controller = "nginx" }, []string{"spec.controller: Invalid value"}},
		{"controller bad domain", func(c *IngressClass) { c.Spec.Controller = "Acme_io/x" }, []string{"spec.controller: Invalid value"}},
		{"scope missing", func(c *IngressClass) { c.Spec.Parameters.Scope = nil }, []string{"spec.parameters.scope: Required value"}},
		{"scope unknown", func(c *IngressClass) { c.Spec.Parameters.Scope = ptrTo("Global") }, []string{"spec.parameters.scope: Unsupported value"}},
		{"namespace scope needs namespace", func(c *IngressClass) {
			c.Spec.Parameters.Scope = ptrTo(IngressClassParametersReferenceScopeNamespace)
		}, []string{"spec.parameters.namespace: Required value"}},
		{"cluster scope forbids namespace", func(c *IngressClass) { c.Spec.Parameters.Namespace = ptrTo("x") },
			[]string{"spec.parameters.namespace: Forbidden"}},
		{"kind and name required", func(c *IngressClass) { c.Spec.Parameters.Kind, c.Spec.Parameters.Name = "", "" },
			[]string{"spec.parameters.kind: Required value", "spec.parameters.name: Required value"}},
		{"name with a slash", func(c *IngressClass) { c.Spec.Parameters.Name = "a/b" }, []string{"spec.parameters.name: Invalid value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := c.DeepCopy()
			tc.mutate(x)
			assert.Equal(t, tc.want, errorSummary(x.Validate()))
		})
	}

	n := c.DeepCopy()
	n.Spec.Parameters.Name = "other"
	assert.Empty(t, n.ValidateUpdate(c))
	n.Spec.Controller = "example.com/ingress"
	assert.Equal(t, []string{`spec.controller: Invalid value: "example.com/ingress": field is immutable`},
		[]string{n.ValidateUpdate(c)[0].Error()})

	ns := c.DeepCopy()
	ns.Namespace = "default"
	assert.Error(t, NewScheme().Validate(ns), "cluster-scoped")
}

func TestIngressClassManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: external-lb
spec:
  controller: example.com/ingress-controller
  parameters:
    apiGroup: k8s.example.com
    kind: IngressParameters
    name: external-lb
    scope: Namespace
    namespace: external-configuration
`)
	require.NoError(t, validateThroughScheme(obj))
	jsonRoundTrip(t, obj)
}
