package objects

// Service account token lifetimes, in seconds, as Kubernetes bounds a
// TokenRequest's and a serviceAccountToken projection's
// expirationSeconds.
const (
	DefaultTokenExpirationSeconds int64 = 3600
	MinTokenExpirationSeconds     int64 = 600
	MaxTokenExpirationSeconds     int64 = 1 << 32
)

// TokenRequestKind is how a refused TokenRequest is named, as Kubernetes
// names it: `TokenRequest.authentication.k8s.io "" is invalid: ...`.
const TokenRequestKind = "TokenRequest.authentication.k8s.io"

// TokenRequestSpec asks for a token of a service account: the spec of
// Kubernetes' TokenRequest (authentication.k8s.io/v1), which
// podkit.Orchestrator.CreateToken takes. TokenRequest is not a stored
// kind: a request makes a token and keeps nothing.
type TokenRequestSpec struct {
	// Audiences are who the token is for; its recipient must refuse a
	// token that names none of its own. Empty: the issuer's API
	// audiences.
	Audiences []string `json:"audiences"`
	// ExpirationSeconds is how long the token is valid: at least 600,
	// default 3600.
	ExpirationSeconds *int64 `json:"expirationSeconds,omitempty"`
	// BoundObjectRef binds the token to a Pod or a Secret of the service
	// account's namespace: the token is refused once that object is gone
	// (or is another object of its name), as the token is with the
	// service account itself.
	BoundObjectRef *BoundObjectReference `json:"boundObjectRef,omitempty"`
}

// BoundObjectReference names the object a token is bound to: a Pod or a
// Secret (apiVersion v1). A uid, when set, must be the object's.
type BoundObjectReference struct {
	Kind       string `json:"kind,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
	Name       string `json:"name,omitempty"`
	UID        string `json:"uid,omitempty"`
}

// TokenRequestStatus is the token made and when it expires.
//
// As kube-apiserver (with its default
// --service-account-extend-token-expiration) does, a token bound to a pod
// and asked for 3607 seconds for the API audiences is valid for a year,
// its kubernetes.io claim's warnafter telling when it should have been
// replaced; ExpirationTimestamp is then the one the request asked for, so
// that its holder replaces it then.
type TokenRequestStatus struct {
	Token               string `json:"token"`
	ExpirationTimestamp Time   `json:"expirationTimestamp"`
}

// Default sets the expirationSeconds of a request that has none.
func (s *TokenRequestSpec) Default() {
	if s.ExpirationSeconds == nil {
		x := DefaultTokenExpirationSeconds
		s.ExpirationSeconds = &x
	}
}

// ValidateTokenRequestSpec checks a defaulted request as Kubernetes
// validates a TokenRequest: its lifetime is at least 10 minutes and at
// most 2^32 seconds.
func ValidateTokenRequestSpec(s *TokenRequestSpec) ErrorList {
	if s.ExpirationSeconds == nil {
		return nil
	}
	return validateTokenExpiration(*s.ExpirationSeconds, NewPath("spec", "expirationSeconds"))
}

func validateTokenExpiration(sec int64, p *Path) ErrorList {
	switch {
	case sec < MinTokenExpirationSeconds:
		return ErrorList{Invalid(p, sec, "may not specify a duration less than 10 minutes")}
	case sec > MaxTokenExpirationSeconds:
		return ErrorList{Invalid(p, sec, "may not specify a duration larger than 2^32 seconds")}
	}
	return nil
}

// TokenReviewStatus is what a review of a token found: the status of
// Kubernetes' TokenReview (authentication.k8s.io/v1), which
// podkit.Orchestrator.ReviewToken returns.
type TokenReviewStatus struct {
	// Authenticated is true when the token is valid; User is then who
	// presented it.
	Authenticated bool     `json:"authenticated,omitempty"`
	User          UserInfo `json:"user,omitempty"`
	// Audiences are those of the review's audiences the token is for.
	Audiences []string `json:"audiences,omitempty"`
	// Error says why the token was refused.
	Error string `json:"error,omitempty"`
}

// UserInfo is an authenticated user, as Kubernetes' authentication
// reports it: a service account's token authenticates
// "system:serviceaccount:NAMESPACE:NAME" in the groups
// system:serviceaccounts, system:serviceaccounts:NAMESPACE and
// system:authenticated, its uid the service account's.
type UserInfo struct {
	Username string   `json:"username,omitempty"`
	UID      string   `json:"uid,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	// Extra holds what the token was bound to (the Extra* keys).
	Extra map[string]ExtraValue `json:"extra,omitempty"`
}

// ExtraValue is the values of one key of UserInfo.Extra.
type ExtraValue []string

// Keys of UserInfo.Extra, as Kubernetes sets them for a service account
// token: the pod it is bound to, the node that pod runs on, and the
// token's own ID ("JTI=" and its jti claim).
const (
	ExtraPodName      = "authentication.kubernetes.io/pod-name"
	ExtraPodUID       = "authentication.kubernetes.io/pod-uid"
	ExtraNodeName     = "authentication.kubernetes.io/node-name"
	ExtraNodeUID      = "authentication.kubernetes.io/node-uid"
	ExtraCredentialID = "authentication.kubernetes.io/credential-id"
)
