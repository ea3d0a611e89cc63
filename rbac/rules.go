package rbac

import (
	"strings"

	"github.com/podkit/podkit/objects"
)

// RuleAllows reports whether rule grants req, by Kubernetes' RBAC rule
// matching: the verb, and for a resource request the API group, the
// resource (with its subresource) and the name; for a non-resource
// request, the URL. The user is not looked at: bindings decide who a
// rule applies to.
func RuleAllows(req *Request, rule *objects.PolicyRule) bool {
	if !req.IsResourceRequest() {
		return verbMatches(rule, req.Verb) && nonResourceURLMatches(rule, req.NonResourceURL)
	}
	combined := req.Resource
	if req.Subresource != "" {
		combined += "/" + req.Subresource
	}
	return verbMatches(rule, req.Verb) &&
		apiGroupMatches(rule, req.APIGroup) &&
		resourceMatches(rule, combined, req.Subresource) &&
		resourceNameMatches(rule, req.Name)
}

func verbMatches(rule *objects.PolicyRule, verb string) bool {
	for _, v := range rule.Verbs {
		if v == objects.VerbAll || v == verb {
			return true
		}
	}
	return false
}

func apiGroupMatches(rule *objects.PolicyRule, group string) bool {
	for _, g := range rule.APIGroups {
		if g == objects.APIGroupAll || g == group {
			return true
		}
	}
	return false
}

// resourceMatches matches "*", the combined "resource/subresource" (or
// the resource alone when no subresource is asked for), and
// "*/subresource". A rule naming only "pods" does not grant "pods/log".
func resourceMatches(rule *objects.PolicyRule, combined, subresource string) bool {
	for _, r := range rule.Resources {
		switch {
		case r == objects.ResourceAll, r == combined:
			return true
		case subresource == "":
			continue
		case len(r) == len(subresource)+2 && strings.HasPrefix(r, "*/") && strings.HasSuffix(r, subresource):
			return true
		}
	}
	return false
}

// resourceNameMatches: no resourceNames allows every name; otherwise the
// request's name must be one of them, so a request without a name (list,
// watch, create, deletecollection) is not allowed.
func resourceNameMatches(rule *objects.PolicyRule, name string) bool {
	if len(rule.ResourceNames) == 0 {
		return true
	}
	for _, n := range rule.ResourceNames {
		if n == name {
			return true
		}
	}
	return false
}

// nonResourceURLMatches matches "*", the URL itself, and a prefix ending
// in "*" ("/logs/*" matches "/logs/" and "/logs/kubelet.log").
func nonResourceURLMatches(rule *objects.PolicyRule, url string) bool {
	for _, u := range rule.NonResourceURLs {
		switch {
		case u == objects.NonResourceAll, u == url:
			return true
		case strings.HasSuffix(u, "*") && strings.HasPrefix(url, strings.TrimRight(u, "*")):
			return true
		}
	}
	return false
}
