package admissionpolicy

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// BenchmarkAdmit measures what a pod's create costs the policies: none
// bound (one empty lookup), and one ValidatingAdmissionPolicy and one
// MutatingAdmissionPolicy matching it (the pod made unstructured, the
// expressions evaluated, the mutation merged and decoded):
//
//	go test -run '^$' -bench Admit -benchmem ./internal/admissionpolicy/
func BenchmarkAdmit(b *testing.B) {
	scheme := objects.NewScheme()
	s, err := memdb.New(memdb.WithScheme(scheme))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e := New(scheme, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pod := &objects.Pod{TypeMeta: objects.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web-1", Labels: map[string]string{"app": "web"}},
		Spec:       objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "registry.local/app:1"}}}}
	req := Request{Operation: "CREATE", Info: scheme.Lookup("Pod"), Object: pod}
	run := func(b *testing.B) {
		ctx := context.Background()
		for b.Loop() {
			err := s.Update(ctx, func(tx store.Tx) error {
				if _, err := e.Mutate(ctx, tx, req); err != nil {
					return err
				}
				return e.Admit(ctx, tx, req)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("none", run)
	rules := &objects.MatchResources{ResourceRules: []objects.NamedRuleWithOperations{{RuleWithOperations: objects.RuleWithOperations{
		Operations: []objects.OperationType{objects.OperationCreate},
		Rule:       objects.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}}}
	policies := []objects.Object{
		&objects.ValidatingAdmissionPolicy{ObjectMeta: objects.ObjectMeta{Name: "images"}, Spec: objects.ValidatingAdmissionPolicySpec{
			MatchConstraints: rules,
			Validations:      []objects.Validation{{Expression: "object.spec.containers.all(c, c.image.startsWith('registry.local/'))"}}}},
		&objects.ValidatingAdmissionPolicyBinding{ObjectMeta: objects.ObjectMeta{Name: "images"}, Spec: objects.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: "images", ValidationActions: []objects.ValidationAction{objects.ActionDeny}}},
		&objects.MutatingAdmissionPolicy{ObjectMeta: objects.ObjectMeta{Name: "team"}, Spec: objects.MutatingAdmissionPolicySpec{
			MatchConstraints: rules, ReinvocationPolicy: objects.NeverReinvocationPolicy,
			Mutations: []objects.Mutation{{PatchType: objects.PatchTypeApplyConfiguration, ApplyConfiguration: &objects.ApplyConfiguration{
				Expression: `Object{metadata: Object.metadata{labels: {"team": "web"}}}`}}}}},
		&objects.MutatingAdmissionPolicyBinding{ObjectMeta: objects.ObjectMeta{Name: "team"}, Spec: objects.MutatingAdmissionPolicyBindingSpec{PolicyName: "team"}},
	}
	err = s.Update(context.Background(), func(tx store.Tx) error {
		for _, p := range policies {
			scheme.Default(p)
			if err := tx.Create(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("one-validating-one-mutating", run)
}
