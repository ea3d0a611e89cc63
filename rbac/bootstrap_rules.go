package rbac

import "github.com/podkit/podkit/objects"

// The rules of Kubernetes' bootstrap ClusterRoles (kube-apiserver's
// bootstrap policy), with verbs, groups, resources and URLs sorted as
// Kubernetes stores them, so that a role reads as `kubectl get
// clusterrole -o yaml` shows it in a cluster.

// API groups the rules name.
const (
	coreGroup           = ""
	appsGroup           = "apps"
	authenticationGroup = "authentication.k8s.io"
	authorizationGroup  = "authorization.k8s.io"
	autoscalingGroup    = "autoscaling"
	batchGroup          = "batch"
	coordinationGroup   = "coordination.k8s.io"
	discoveryGroup      = "discovery.k8s.io"
	extensionsGroup     = "extensions"
	networkingGroup     = "networking.k8s.io"
	policyGroup         = "policy"
)

// Verb sets, sorted.
var (
	readVerbs      = []string{"get", "list", "watch"}
	writeVerbs     = []string{"create", "delete", "deletecollection", "patch", "update"}
	readWriteVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
)

// grant is a resource rule granting verbs on resources of group.
func grant(verbs []string, group string, resources ...string) objects.PolicyRule {
	return objects.PolicyRule{
		Verbs:     append([]string(nil), verbs...),
		APIGroups: []string{group},
		Resources: resources,
	}
}

// getURLs is a non-resource rule granting get on urls.
func getURLs(urls ...string) objects.PolicyRule {
	return objects.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: urls}
}

func discoveryRules() []objects.PolicyRule {
	return []objects.PolicyRule{
		getURLs("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"),
	}
}

func basicUserRules() []objects.PolicyRule {
	return []objects.PolicyRule{
		grant([]string{"create"}, authorizationGroup, "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
		grant([]string{"create"}, authenticationGroup, "selfsubjectreviews"),
	}
}

func publicInfoViewerRules() []objects.PolicyRule {
	return []objects.PolicyRule{getURLs("/healthz", "/livez", "/readyz", "/version", "/version/")}
}

// aggregateToAdminRules are what admin has beyond edit: granting access
// to the namespace.
func aggregateToAdminRules() []objects.PolicyRule {
	return []objects.PolicyRule{
		grant([]string{"create"}, authorizationGroup, "localsubjectaccessreviews"),
		grant(readWriteVerbs, objects.RBACGroupName, "rolebindings", "roles"),
	}
}

// aggregateToEditRules are what edit has beyond view: reading the
// escalating resources (Secrets, exec, proxies) and writing the
// namespace's workloads and their configuration, but not the /status
// subresources, quotas or limits that control the namespace.
func aggregateToEditRules() []objects.PolicyRule {
	return []objects.PolicyRule{
		grant(readVerbs, coreGroup, "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"),
		grant([]string{"impersonate"}, coreGroup, "serviceaccounts"),
		grant(writeVerbs, coreGroup, "pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"),
		grant([]string{"create"}, coreGroup, "pods/eviction"),
		grant(writeVerbs, coreGroup, "configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
			"replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"),
		grant([]string{"create"}, coreGroup, "serviceaccounts/token"),
		grant(writeVerbs, appsGroup, "daemonsets", "deployments", "deployments/rollback", "deployments/scale",
			"replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"),
		grant(writeVerbs, autoscalingGroup, "horizontalpodautoscalers"),
		grant(writeVerbs, batchGroup, "cronjobs", "jobs"),
		grant(writeVerbs, extensionsGroup, "daemonsets", "deployments", "deployments/rollback", "deployments/scale",
			"ingresses", "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"),
		grant(writeVerbs, policyGroup, "poddisruptionbudgets"),
		grant(writeVerbs, networkingGroup, "ingresses", "networkpolicies"),
		grant(readWriteVerbs, coordinationGroup, "leases"),
	}
}

// aggregateToViewRules read the namespace's non-escalating objects: not
// Secrets, nor Roles and RoleBindings. Reading namespaces in a namespace
// reads that namespace only, which tells a user where it has access.
func aggregateToViewRules() []objects.PolicyRule {
	return []objects.PolicyRule{
		grant(readVerbs, coreGroup, "configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
			"pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"),
		grant(readVerbs, coreGroup, "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
			"replicationcontrollers/status", "resourcequotas", "resourcequotas/status"),
		grant(readVerbs, coreGroup, "namespaces"),
		grant(readVerbs, discoveryGroup, "endpointslices"),
		grant(readVerbs, appsGroup, "controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
			"deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status",
			"statefulsets", "statefulsets/scale", "statefulsets/status"),
		grant(readVerbs, autoscalingGroup, "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
		grant(readVerbs, batchGroup, "cronjobs", "cronjobs/status", "jobs", "jobs/status"),
		grant(readVerbs, extensionsGroup, "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
			"deployments/status", "ingresses", "ingresses/status", "networkpolicies", "replicasets",
			"replicasets/scale", "replicasets/status", "replicationcontrollers/scale"),
		grant(readVerbs, policyGroup, "poddisruptionbudgets", "poddisruptionbudgets/status"),
		grant(readVerbs, networkingGroup, "ingresses", "ingresses/status", "networkpolicies"),
	}
}
