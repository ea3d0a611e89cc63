package rbac

import "slices"

// Users and groups Kubernetes gives meaning to.
const (
	// AllAuthenticated is the group of every authenticated user; Authorize
	// adds it (see UserInfo).
	AllAuthenticated = "system:authenticated"
	// AllUnauthenticated is the group of anonymous requests.
	AllUnauthenticated = "system:unauthenticated"
	// Anonymous is the user name of a request without credentials.
	Anonymous = "system:anonymous"
	// SystemPrivilegedGroup is bound to cluster-admin by the bootstrap
	// ClusterRoleBinding "cluster-admin".
	SystemPrivilegedGroup = "system:masters"
	// AllServiceAccountsGroup is the group of every service account.
	AllServiceAccountsGroup = "system:serviceaccounts"

	serviceAccountUserPrefix  = "system:serviceaccount:"
	serviceAccountGroupPrefix = "system:serviceaccounts:"
)

// UserInfo is who makes a request, as the host's own authentication
// established it: a user name and the groups the user is in.
//
// Authorize treats the user as authenticated, as Kubernetes'
// authentication does: it adds the group system:authenticated unless the
// user is system:anonymous or already is in system:authenticated or
// system:unauthenticated. An anonymous request is
// UserInfo{Name: Anonymous, Groups: []string{AllUnauthenticated}}.
type UserInfo struct {
	Name   string
	Groups []string
}

// ServiceAccountUser returns the user a ServiceAccount acts as, as
// Kubernetes' service account tokens authenticate it:
// "system:serviceaccount:NAMESPACE:NAME", in the groups
// system:serviceaccounts and system:serviceaccounts:NAMESPACE.
func ServiceAccountUser(namespace, name string) UserInfo {
	return UserInfo{
		Name:   ServiceAccountUsername(namespace, name),
		Groups: []string{AllServiceAccountsGroup, serviceAccountGroupPrefix + namespace},
	}
}

// ServiceAccountUsername returns "system:serviceaccount:NAMESPACE:NAME".
func ServiceAccountUsername(namespace, name string) string {
	return serviceAccountUserPrefix + namespace + ":" + name
}

// authenticated returns u with system:authenticated added, as
// Kubernetes' AuthenticatedGroupAdder does.
func authenticated(u UserInfo) UserInfo {
	if u.Name == Anonymous || slices.Contains(u.Groups, AllAuthenticated) || slices.Contains(u.Groups, AllUnauthenticated) {
		return u
	}
	u.Groups = append(slices.Clip(u.Groups), AllAuthenticated)
	return u
}
