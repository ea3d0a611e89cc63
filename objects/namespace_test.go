package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNamespace(t *testing.T) {
	n := &Namespace{ObjectMeta: ObjectMeta{Name: "team-a"}}
	n.Default()
	assert.Equal(t, NamespaceActive, n.Status.Phase)
	assert.Equal(t, "team-a", n.Labels["kubernetes.io/metadata.name"])
	assert.Empty(t, n.Validate())

	n = &Namespace{ObjectMeta: ObjectMeta{Name: "team.a"}, Spec: NamespaceSpec{Finalizers: []FinalizerName{FinalizerKubernetes, "a/b/c"}}}
	assertFieldErrors(t, []string{
		`metadata.name: Invalid value: "team.a": a lowercase RFC 1123 label*`,
		`spec.finalizers[1]: Invalid value: "a/b/c": a qualified name must consist of*`,
	}, n.Validate())

	// Through the scheme, the namespace itself is cluster-scoped.
	s := NewScheme()
	n = &Namespace{ObjectMeta: ObjectMeta{Name: "x", Namespace: "default"}}
	err := s.Validate(n)
	require.Error(t, err)
	assert.Equal(t, `Namespace "x" is invalid: metadata.namespace: Forbidden: not allowed on this type`, err.Error())

	// A bad name is reported once.
	err = s.Validate(&Namespace{ObjectMeta: ObjectMeta{Name: "Team"}})
	var inv *InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Len(t, inv.Errors, 1, err.Error())
}
