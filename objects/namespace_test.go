package objects

import (
	"testing"
	"time"

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

// A new namespace is Active, has the finalizer that keeps it until it is
// empty, and carries its name as a label, a generated name too, whatever
// was sent.
func TestNamespacePrepareForCreate(t *testing.T) {
	labels := map[string]string{"team": "a", LabelMetadataName: "other"}
	n := &Namespace{ObjectMeta: ObjectMeta{Name: "ns-x7k2q", GenerateName: "ns-", Labels: labels, Finalizers: []string{"example.com/hold"}},
		Status: NamespaceStatus{Phase: NamespaceTerminating}}
	n.PrepareForCreate()
	assert.Equal(t, NamespaceStatus{Phase: NamespaceActive}, n.Status)
	assert.Equal(t, []string{"example.com/hold", string(FinalizerKubernetes)}, n.Finalizers)
	assert.Equal(t, map[string]string{"team": "a", LabelMetadataName: "ns-x7k2q"}, n.Labels)
	assert.Equal(t, "other", labels[LabelMetadataName], "the labels given are replaced, not changed")
	n.PrepareForCreate()
	assert.Equal(t, []string{"example.com/hold", string(FinalizerKubernetes)}, n.Finalizers, "once")

	// A generated name must be a DNS label too.
	assertFieldErrors(t, []string{`metadata.generateName: Invalid value: "a.b-": a lowercase RFC 1123 label*`},
		(&Namespace{ObjectMeta: ObjectMeta{GenerateName: "a.b-"}}).Validate())
	assert.Empty(t, (&Namespace{ObjectMeta: ObjectMeta{GenerateName: "team-"}}).Validate())
}

func TestNamespaceValidateStatusUpdate(t *testing.T) {
	live := &Namespace{ObjectMeta: ObjectMeta{Name: "x"}}
	deleting := &Namespace{ObjectMeta: ObjectMeta{Name: "x", DeletionTimestamp: ptrTo(NewTime(time.Unix(1, 0)))}}
	for _, c := range []struct {
		old   *Namespace
		phase NamespacePhase
		want  []string
	}{
		{live, NamespaceActive, nil},
		{deleting, NamespaceTerminating, nil},
		{live, NamespaceTerminating, []string{"status.phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"}},
		{deleting, NamespaceActive, []string{"status.phase: Invalid value: \"Active\": may only be 'Terminating' if `deletionTimestamp` is not empty"}},
		{live, "Bogus", []string{"status.phase: Invalid value: \"Bogus\": may only be 'Active' if `deletionTimestamp` is empty"}},
	} {
		n := &Namespace{ObjectMeta: ObjectMeta{Name: "x"}, Status: NamespaceStatus{Phase: c.phase}}
		assertFieldErrors(t, c.want, n.ValidateStatusUpdate(c.old))
	}
	// Through the scheme, an error names the namespace.
	err := NewScheme().ValidateStatusUpdate(&Namespace{ObjectMeta: ObjectMeta{Name: "x"}}, live)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, "Namespace \"x\" is invalid: status.phase: Invalid value: \"\": may only be 'Active' if `deletionTimestamp` is empty", err.Error())
}
