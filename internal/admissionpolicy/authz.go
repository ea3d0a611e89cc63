package admissionpolicy

import (
	"context"

	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/podkit/podkit/rbac"
	"github.com/podkit/podkit/store"
)

// rbacAuthorizer answers the authorizer variable's checks by the RBAC
// objects of the write's transaction (rbac.AuthorizeIn): allowed, or no
// opinion, as Kubernetes' RBAC authorizer answers.
type rbacAuthorizer struct{ tx store.ReadTx }

func (a rbacAuthorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	req := rbac.Request{
		Verb:        attrs.GetVerb(),
		APIGroup:    attrs.GetAPIGroup(),
		Resource:    attrs.GetResource(),
		Subresource: attrs.GetSubresource(),
		Name:        attrs.GetName(),
		Namespace:   attrs.GetNamespace(),
	}
	if !attrs.IsResourceRequest() {
		req = rbac.Request{Verb: attrs.GetVerb(), NonResourceURL: attrs.GetPath()}
	}
	if u := attrs.GetUser(); u != nil {
		req.User = rbac.UserInfo{Name: u.GetName(), Groups: u.GetGroups()}
	}
	d, err := rbac.AuthorizeIn(a.tx, req)
	switch {
	case err != nil:
		return authorizer.DecisionNoOpinion, "", err
	case d.Allowed:
		return authorizer.DecisionAllow, d.Reason, nil
	}
	return authorizer.DecisionNoOpinion, d.Reason, nil
}
