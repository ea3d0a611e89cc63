package rbac

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/podkit/podkit/objects"
)

func resourceRule(verbs, groups, resources []string, names ...string) objects.PolicyRule {
	return objects.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
}

func urlRule(verbs []string, urls ...string) objects.PolicyRule {
	return objects.PolicyRule{Verbs: verbs, NonResourceURLs: urls}
}

func list(s ...string) []string { return s }

// Each case pins one of Kubernetes' matching rules: a case that fails
// names the rule that is wrong.
func TestRuleAllows(t *testing.T) {
	getPod := Request{Verb: "get", Resource: "pods", Name: "web", Namespace: "default"}
	with := func(r Request, f func(*Request)) Request { f(&r); return r }
	cases := []struct {
		name string
		rule objects.PolicyRule
		req  Request
		want bool
	}{
		// Verbs.
		{"verb exact", resourceRule(list("get"), list(""), list("pods")), getPod, true},
		{"verb other", resourceRule(list("list", "watch"), list(""), list("pods")), getPod, false},
		{"verb wildcard", resourceRule(list("*"), list(""), list("pods")), getPod, true},
		{"verb case-sensitive", resourceRule(list("GET"), list(""), list("pods")), getPod, false},
		// API groups.
		{"core group", resourceRule(list("get"), list(""), list("pods")), getPod, true},
		{"core group is not apps", resourceRule(list("get"), list(""), list("deployments")),
			Request{Verb: "get", APIGroup: "apps", Resource: "deployments"}, false},
		{"named group", resourceRule(list("get"), list("apps"), list("deployments")),
			Request{Verb: "get", APIGroup: "apps", Resource: "deployments"}, true},
		{"group wildcard", resourceRule(list("get"), list("*"), list("deployments")),
			Request{Verb: "get", APIGroup: "apps", Resource: "deployments"}, true},
		{"named group is not core", resourceRule(list("get"), list("apps"), list("pods")), getPod, false},
		// Resources.
		{"resource other", resourceRule(list("get"), list(""), list("services")), getPod, false},
		{"resource wildcard", resourceRule(list("get"), list(""), list("*")), getPod, true},
		{"resource wildcard covers subresources", resourceRule(list("get"), list(""), list("*")),
			with(getPod, func(r *Request) { r.Subresource = "log" }), true},
		{"resource does not cover its subresources", resourceRule(list("get"), list(""), list("pods")),
			with(getPod, func(r *Request) { r.Subresource = "log" }), false},
		{"resource/subresource", resourceRule(list("get"), list(""), list("pods/log")),
			with(getPod, func(r *Request) { r.Subresource = "log" }), true},
		{"resource/subresource is not the resource", resourceRule(list("get"), list(""), list("pods/log")), getPod, false},
		{"resource/subresource other subresource", resourceRule(list("get"), list(""), list("pods/log")),
			with(getPod, func(r *Request) { r.Subresource = "exec" }), false},
		{"*/subresource", resourceRule(list("update"), list("apps"), list("*/scale")),
			Request{Verb: "update", APIGroup: "apps", Resource: "deployments", Subresource: "scale", Name: "web"}, true},
		{"*/subresource is not the resource", resourceRule(list("get"), list(""), list("*/log")), getPod, false},
		{"*/subresource other subresource", resourceRule(list("get"), list(""), list("*/status")),
			with(getPod, func(r *Request) { r.Subresource = "log" }), false},
		{"*/subresource matches whole", resourceRule(list("get"), list(""), list("*/atus")),
			with(getPod, func(r *Request) { r.Subresource = "status" }), false},
		{"no prefix wildcard", resourceRule(list("get"), list(""), list("pod*")), getPod, false},
		// Resource names.
		{"resourceNames match", resourceRule(list("get"), list(""), list("pods"), "web", "db"), getPod, true},
		{"resourceNames other", resourceRule(list("get"), list(""), list("pods"), "db"), getPod, false},
		{"resourceNames and no name (list)", resourceRule(list("list"), list(""), list("pods"), "web"),
			Request{Verb: "list", Resource: "pods", Namespace: "default"}, false},
		{"resourceNames and no name (create)", resourceRule(list("create"), list(""), list("pods"), "web"),
			Request{Verb: "create", Resource: "pods", Namespace: "default"}, false},
		{"no resourceNames allows list", resourceRule(list("list"), list(""), list("pods")),
			Request{Verb: "list", Resource: "pods", Namespace: "default"}, true},
		// Non-resource URLs.
		{"url exact", urlRule(list("get"), "/healthz"), Request{Verb: "get", NonResourceURL: "/healthz"}, true},
		{"url is not a prefix", urlRule(list("get"), "/healthz"), Request{Verb: "get", NonResourceURL: "/healthz/ready"}, false},
		{"url prefix", urlRule(list("get"), "/logs/*"), Request{Verb: "get", NonResourceURL: "/logs/kubelet.log"}, true},
		{"url prefix itself", urlRule(list("get"), "/logs/*"), Request{Verb: "get", NonResourceURL: "/logs/"}, true},
		{"url prefix without its slash", urlRule(list("get"), "/logs/*"), Request{Verb: "get", NonResourceURL: "/logs"}, false},
		{"url prefix without slash", urlRule(list("get"), "/healthz*"), Request{Verb: "get", NonResourceURL: "/healthzzz"}, true},
		{"url wildcard", urlRule(list("get"), "*"), Request{Verb: "get", NonResourceURL: "/anything"}, true},
		{"url verb", urlRule(list("get"), "/healthz"), Request{Verb: "post", NonResourceURL: "/healthz"}, false},
		{"url verb wildcard", urlRule(list("*"), "/healthz"), Request{Verb: "post", NonResourceURL: "/healthz"}, true},
		{"url rule does not grant resources", urlRule(list("*"), "*"), getPod, false},
		{"resource rule does not grant urls", resourceRule(list("*"), list("*"), list("*")), Request{Verb: "get", NonResourceURL: "/healthz"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, RuleAllows(&c.req, &c.rule))
		})
	}
}
