package podkit_test

import (
	"context"
	"fmt"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/rbac"
)

// A host issues a token of a service account for its own audience, and
// later authenticates a caller that presents it, then authorizes the
// caller's request by RBAC.
func ExampleOrchestrator_ReviewToken() {
	ctx := context.Background()
	o, err := podkit.New()
	if err != nil {
		panic(err)
	}
	defer o.Close()
	if err := o.Create(ctx, &objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Name: "builder"}}); err != nil {
		panic(err)
	}
	tok, err := o.CreateToken(ctx, "default", "builder", objects.TokenRequestSpec{Audiences: []string{"https://host.example"}})
	if err != nil {
		panic(err)
	}

	// What the host does with "Authorization: Bearer <token>".
	st, err := o.ReviewToken(ctx, tok.Token, []string{"https://host.example"})
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Authenticated, st.User.Username, st.User.Groups)
	d, err := o.Authorize(ctx, rbac.Request{User: podkit.TokenUser(st.User), Verb: "list", Resource: "pods", Namespace: "default"})
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Allowed)

	st, _ = o.ReviewToken(ctx, tok.Token, []string{"https://elsewhere.example"})
	fmt.Println(st.Authenticated, st.Error)
	// Output:
	// true system:serviceaccount:default:builder [system:serviceaccounts system:serviceaccounts:default system:authenticated]
	// false
	// false token audiences ["https://host.example"] is invalid for the target audiences ["https://elsewhere.example"]
}
