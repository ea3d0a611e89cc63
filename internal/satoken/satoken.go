// Package satoken issues and reviews service account tokens as
// kube-apiserver does: JWTs signed by the orchestrator's key whose claims
// are Kubernetes' (pkg/serviceaccount/claims.go), made by a TokenRequest
// and checked by a TokenReview. podkit.Orchestrator.CreateToken and
// ReviewToken expose it; the node agent writes the tokens of projected
// serviceAccountToken volume sources with it.
//
// Signing and verifying is go-jose's (github.com/go-jose/go-jose/v4), as
// Kubernetes' is.
package satoken

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/rbac"
	"github.com/podkit/podkit/store"
)

// Lifetimes kube-apiserver gives meaning to.
const (
	// WarnOnlyBoundTokenExpirationSeconds is the lifetime (an hour and
	// seven seconds) of the tokens Kubernetes mounts in every pod: a
	// request for it, bound to a pod, for the API audiences, gets a token
	// valid for ExpirationExtensionSeconds whose warnafter claim is when
	// it should have been replaced.
	WarnOnlyBoundTokenExpirationSeconds int64 = 3607
	// ExpirationExtensionSeconds is a year.
	ExpirationExtensionSeconds int64 = 365 * 24 * 60 * 60
)

// Config configures an Issuer.
type Config struct {
	// Issuer is the tokens' iss claim; a token of another is refused.
	Issuer string
	// APIAudiences are the audiences of a request that names none, and
	// those a review that names none accepts (default: Issuer), as
	// kube-apiserver's --api-audiences.
	APIAudiences []string
	// Signer signs tokens; nil: a key kept in the store (see
	// KeySecretName), generated when first needed.
	Signer crypto.Signer
	// VerificationKeys are further keys tokens are accepted from, such as
	// a previous signing key while its tokens are still in use.
	VerificationKeys []crypto.PublicKey
	// Clock gives the time tokens are issued and checked at.
	Clock clockwork.Clock
}

// Issuer issues and reviews the tokens of the service accounts in a
// store. It is safe for concurrent use.
type Issuer struct {
	store store.Store
	cfg   Config

	mu   sync.Mutex
	keys *keySet // read or made by the first call that needs them
}

// New returns an issuer of tokens for the service accounts in s.
func New(s store.Store, cfg Config) (*Issuer, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("service account issuer is empty")
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if len(cfg.APIAudiences) == 0 {
		cfg.APIAudiences = []string{cfg.Issuer}
	}
	i := &Issuer{store: s, cfg: cfg}
	if cfg.Signer != nil {
		ks, err := newKeySet(cfg.Signer, cfg.VerificationKeys)
		if err != nil {
			return nil, err
		}
		i.keys = ks
	}
	return i, nil
}

// Issuer returns the iss claim of the tokens.
func (i *Issuer) Issuer() string { return i.cfg.Issuer }

// APIAudiences returns the audiences a request or a review naming none
// gets.
func (i *Issuer) APIAudiences() []string { return slices.Clone(i.cfg.APIAudiences) }

func (i *Issuer) keySet(ctx context.Context) (*keySet, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.keys != nil {
		return i.keys, nil
	}
	s, err := storedSigner(ctx, i.store)
	if err != nil {
		return nil, err
	}
	ks, err := newKeySet(s, i.cfg.VerificationKeys)
	if err != nil {
		return nil, err
	}
	i.keys = ks
	return ks, nil
}

// The claims of a token, as Kubernetes writes them: the registered ones
// (jwt.Claims) and the private kubernetes.io one.
type privateClaims struct {
	Kubernetes kubernetesClaims `json:"kubernetes.io,omitempty"`
}

type kubernetesClaims struct {
	Namespace      string           `json:"namespace,omitempty"`
	ServiceAccount ref              `json:"serviceaccount,omitempty"`
	Pod            *ref             `json:"pod,omitempty"`
	Secret         *ref             `json:"secret,omitempty"`
	Node           *ref             `json:"node,omitempty"`
	WarnAfter      *jwt.NumericDate `json:"warnafter,omitempty"`
}

type ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// CreateToken makes a token of the service account namespace/name as
// Kubernetes' TokenRequest does: the account must exist (the token names
// its uid); a request with no audiences gets the API audiences and one
// with no expirationSeconds 3600; one bound to an object (a Pod running
// as the account, or a Secret, of its namespace) names that object's uid,
// and a pod's node. Errors wrap store.ErrNotFound for what does not
// exist, store.ErrConflict for a bound object of another uid, and
// objects.ErrInvalid for a lifetime out of bounds.
func (i *Issuer) CreateToken(ctx context.Context, namespace, name string, spec objects.TokenRequestSpec) (objects.TokenRequestStatus, error) {
	spec = *spec.DeepCopy()
	var (
		sa     *objects.ServiceAccount
		pod    *objects.Pod
		secret *objects.Secret
		node   *objects.Node
	)
	err := i.store.View(ctx, func(tx store.ReadTx) error {
		o, err := tx.Get("ServiceAccount", objects.Key{Namespace: namespace, Name: name})
		if err != nil {
			return notFound(err, "serviceaccounts", name)
		}
		sa = o.(*objects.ServiceAccount)
		if len(spec.Audiences) == 0 {
			spec.Audiences = i.APIAudiences()
		}
		spec.Default()
		if err := objects.ValidateTokenRequestSpec(&spec).ToError(objects.TokenRequestKind, ""); err != nil {
			return err
		}
		r := spec.BoundObjectRef
		if r == nil {
			return nil
		}
		var uid, kind string
		switch group, _ := splitAPIVersion(r.APIVersion); {
		case group == "" && r.Kind == "Pod":
			o, err := tx.Get("Pod", objects.Key{Namespace: namespace, Name: r.Name})
			if err != nil {
				return notFound(err, "pods", r.Name)
			}
			pod = o.(*objects.Pod)
			if pod.Spec.ServiceAccountName != name {
				return fmt.Errorf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", name)
			}
			uid, kind = pod.UID, "Pod"
			if n := pod.Spec.NodeName; n != "" {
				o, err := tx.Get("Node", objects.Key{Name: n})
				switch {
				case errors.Is(err, store.ErrNotFound):
					// The node's name still tells where the pod runs.
					node = &objects.Node{ObjectMeta: objects.ObjectMeta{Name: n}}
				case err != nil:
					return err
				default:
					node = o.(*objects.Node)
				}
			}
		case group == "" && r.Kind == "Secret":
			o, err := tx.Get("Secret", objects.Key{Namespace: namespace, Name: r.Name})
			if err != nil {
				return notFound(err, "secrets", r.Name)
			}
			secret = o.(*objects.Secret)
			uid, kind = secret.UID, "Secret"
		default:
			return fmt.Errorf("cannot bind token to object of type %s", gvkString(r.APIVersion, r.Kind))
		}
		if r.UID != "" && r.UID != uid {
			return fmt.Errorf("Operation cannot be fulfilled on %s %q: the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated: %w",
				kind, r.Name, r.UID, store.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return objects.TokenRequestStatus{}, err
	}
	ks, err := i.keySet(ctx)
	if err != nil {
		return objects.TokenRequestStatus{}, err
	}

	// As kube-apiserver extends it (see WarnOnlyBoundTokenExpirationSeconds).
	exp := *spec.ExpirationSeconds
	var warnAfter int64
	if pod != nil && exp == WarnOnlyBoundTokenExpirationSeconds && subset(spec.Audiences, i.cfg.APIAudiences) {
		warnAfter, exp = exp, ExpirationExtensionSeconds
	}
	now := i.cfg.Clock.Now()
	public := jwt.Claims{
		Issuer:    i.cfg.Issuer,
		Subject:   rbac.ServiceAccountUsername(namespace, name),
		Audience:  jwt.Audience(spec.Audiences),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(now.Add(seconds(exp))),
		ID:        uuid.NewString(),
	}
	private := privateClaims{Kubernetes: kubernetesClaims{
		Namespace:      namespace,
		ServiceAccount: ref{Name: sa.Name, UID: sa.UID},
	}}
	switch {
	case pod != nil:
		private.Kubernetes.Pod = &ref{Name: pod.Name, UID: pod.UID}
		if node != nil {
			private.Kubernetes.Node = &ref{Name: node.Name, UID: node.UID}
		}
	case secret != nil:
		private.Kubernetes.Secret = &ref{Name: secret.Name, UID: secret.UID}
	}
	if warnAfter != 0 {
		private.Kubernetes.WarnAfter = jwt.NewNumericDate(now.Add(seconds(warnAfter)))
	}
	tok, err := jwt.Signed(ks.signer).Claims(public).Claims(private).Serialize()
	if err != nil {
		return objects.TokenRequestStatus{}, fmt.Errorf("failed to generate token: %w", err)
	}
	return objects.TokenRequestStatus{
		Token: tok,
		// What was asked for, even when the token was extended: its
		// holder replaces it then.
		ExpirationTimestamp: objects.NewTime(now.Add(seconds(*spec.ExpirationSeconds))),
	}, nil
}

func seconds(s int64) time.Duration { return time.Duration(s) * time.Second }

func notFound(err error, resource, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s %q not found: %w", resource, name, store.ErrNotFound)
	}
	return err
}

func splitAPIVersion(v string) (group, version string) {
	if i := strings.LastIndexByte(v, '/'); i >= 0 {
		return v[:i], v[i+1:]
	}
	return "", v
}

// gvkString writes a group, version and kind as Kubernetes' messages do:
// "apps/v1, Kind=Deployment", "/v1, Kind=ConfigMap".
func gvkString(apiVersion, kind string) string {
	g, v := splitAPIVersion(apiVersion)
	return g + "/" + v + ", Kind=" + kind
}

// subset reports whether every one of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// errInvalidToken is what a review says of a token that is not one of
// this issuer's at all, as Kubernetes' bearer token authentication does.
var errInvalidToken = errors.New("invalid bearer token")

// ReviewToken checks a token as Kubernetes' TokenReview does with its
// service account authenticator, and returns the review's status: the
// token must be a JWT of this issuer signed by one of its keys, for one of
// audiences (default the API audiences), not expired nor used before it
// is valid (with a minute's leeway), its service account must exist with
// the uid it names, and so must the pod or secret it is bound to; a pod
// or secret whose deletion started more than a minute ago refuses it too.
// A refused token is a status with Authenticated false and Error saying
// why; the error returned is the store's, when it could not be read.
func (i *Issuer) ReviewToken(ctx context.Context, token string, audiences []string) (objects.TokenReviewStatus, error) {
	refuse := func(err error) (objects.TokenReviewStatus, error) {
		return objects.TokenReviewStatus{Error: err.Error()}, nil
	}
	ks, err := i.keySet(ctx)
	if err != nil {
		return objects.TokenReviewStatus{}, err
	}
	tok, err := jwt.ParseSigned(token, ks.algorithms())
	if err != nil {
		return refuse(errInvalidToken)
	}
	var public jwt.Claims
	var private privateClaims
	if err := tok.UnsafeClaimsWithoutVerification(&public); err != nil {
		return refuse(errInvalidToken)
	}
	if public.Issuer != i.cfg.Issuer {
		return refuse(fmt.Errorf("token issuer %q is invalid", public.Issuer))
	}
	if err := verify(tok, ks, &public, &private); err != nil {
		return refuse(err)
	}

	tokenAuds := []string(public.Audience)
	if len(tokenAuds) == 0 {
		tokenAuds = i.cfg.APIAudiences
	}
	requested := audiences
	if len(requested) == 0 {
		requested = i.cfg.APIAudiences
	}
	var auds []string
	for _, a := range requested {
		if slices.Contains(tokenAuds, a) && !slices.Contains(auds, a) {
			auds = append(auds, a)
		}
	}
	if len(auds) == 0 {
		return refuse(fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAuds, requested))
	}

	now := i.cfg.Clock.Now()
	switch err := public.Validate(jwt.Expected{Time: now}); {
	case err == nil:
	case errors.Is(err, jwt.ErrExpired):
		return refuse(errors.New("service account token has expired"))
	case errors.Is(err, jwt.ErrNotValidYet):
		return refuse(errors.New("service account token is not valid yet"))
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return refuse(errors.New("service account token is issued in the future"))
	default:
		return refuse(fmt.Errorf("service account token claims could not be validated: %w", err))
	}

	k := private.Kubernetes
	var refusal error
	err = i.store.View(ctx, func(tx store.ReadTx) error {
		refusal = nil
		var err error
		refusal, err = validateBindings(tx, &k, now.Add(-jwt.DefaultLeeway))
		return err
	})
	if err != nil {
		return objects.TokenReviewStatus{}, err
	}
	if refusal != nil {
		return refuse(refusal)
	}
	return objects.TokenReviewStatus{Authenticated: true, User: userInfo(&k, public.ID), Audiences: auds}, nil
}

// verify checks tok's signature with the key its kid names, else with
// each key, and reads its claims.
func verify(tok *jwt.JSONWebToken, ks *keySet, dest ...any) error {
	var kid string
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	keys := slices.Clone(ks.public)
	slices.SortStableFunc(keys, func(a, b jose.JSONWebKey) int {
		switch {
		case a.KeyID == kid && b.KeyID != kid:
			return -1
		case b.KeyID == kid && a.KeyID != kid:
			return 1
		}
		return 0
	})
	var errs []error
	for _, k := range keys {
		err := tok.Claims(k.Key, dest...)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("%v", errs)
}

// validateBindings checks that what the claims name still exists as
// named: the service account, the secret or pod the token is bound to.
// Objects whose deletion started before deletedBefore refuse it.
func validateBindings(tx store.ReadTx, k *kubernetesClaims, deletedBefore time.Time) (refusal, err error) {
	ns := k.Namespace
	deleted := func(m *objects.ObjectMeta) bool {
		return m.DeletionTimestamp != nil && m.DeletionTimestamp.Before(deletedBefore)
	}
	get := func(kind, name string) (*objects.ObjectMeta, error) {
		o, err := store.Peek(tx, kind, objects.Key{Namespace: ns, Name: name})
		if err != nil {
			return nil, err
		}
		return o.GetObjectMeta(), nil
	}
	sa, err := get("ServiceAccount", k.ServiceAccount.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("serviceaccounts %q not found", k.ServiceAccount.Name), nil
	case err != nil:
		return nil, err
	case sa.UID != k.ServiceAccount.UID:
		return fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, k.ServiceAccount.UID), nil
	case deleted(sa):
		return fmt.Errorf("service account %s/%s has been deleted", ns, k.ServiceAccount.Name), nil
	}
	invalidated := errors.New("service account token has been invalidated")
	if r := k.Secret; r != nil {
		m, err := get("Secret", r.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return invalidated, nil
		case err != nil:
			return nil, err
		case deleted(m):
			return invalidated, nil
		case m.UID != r.UID:
			return fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", m.UID, r.UID), nil
		}
	}
	if r := k.Pod; r != nil {
		m, err := get("Pod", r.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return invalidated, nil
		case err != nil:
			return nil, err
		case m.UID != r.UID:
			return fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", m.UID, r.UID), nil
		case deleted(m):
			return invalidated, nil
		}
	}
	return nil, nil
}

// userInfo is the user a valid token authenticates, as Kubernetes'
// ServiceAccountInfo.UserInfo makes it, with system:authenticated, which
// Kubernetes' authentication adds.
func userInfo(k *kubernetesClaims, jti string) objects.UserInfo {
	u := rbac.ServiceAccountUser(k.Namespace, k.ServiceAccount.Name)
	info := objects.UserInfo{
		Username: u.Name,
		UID:      k.ServiceAccount.UID,
		Groups:   append(u.Groups, rbac.AllAuthenticated),
	}
	extra := map[string]objects.ExtraValue{}
	if p := k.Pod; p != nil && p.Name != "" && p.UID != "" {
		extra[objects.ExtraPodName] = objects.ExtraValue{p.Name}
		extra[objects.ExtraPodUID] = objects.ExtraValue{p.UID}
	}
	if jti != "" {
		extra[objects.ExtraCredentialID] = objects.ExtraValue{"JTI=" + jti}
	}
	if n := k.Node; n != nil && n.Name != "" && k.Pod != nil {
		extra[objects.ExtraNodeName] = objects.ExtraValue{n.Name}
		if n.UID != "" {
			extra[objects.ExtraNodeUID] = objects.ExtraValue{n.UID}
		}
	}
	if len(extra) > 0 {
		info.Extra = extra
	}
	return info
}

// Keys is what a host publishes for others to verify the tokens.
type Keys struct {
	// Public are the verification keys, the signing key's first.
	Public []crypto.PublicKey
	// JWKS is the JSON Web Key Set of Public, as kube-apiserver serves it
	// at /openid/v1/jwks.
	JWKS []byte
	// OpenIDConfiguration is the OpenID Connect discovery document, as
	// kube-apiserver serves it at /.well-known/openid-configuration, its
	// jwks_uri the issuer's URL followed by JWKSPath.
	OpenIDConfiguration []byte
}

// Keys returns the issuer's verification keys and their documents.
func (i *Issuer) Keys(ctx context.Context) (Keys, error) {
	ks, err := i.keySet(ctx)
	if err != nil {
		return Keys{}, err
	}
	var out Keys
	var algs []string
	for _, k := range ks.public {
		out.Public = append(out.Public, k.Key)
		if !slices.Contains(algs, k.Algorithm) {
			algs = append(algs, k.Algorithm)
		}
	}
	if out.JWKS, err = json.Marshal(jose.JSONWebKeySet{Keys: ks.public}); err != nil {
		return Keys{}, err
	}
	out.OpenIDConfiguration, err = json.Marshal(struct {
		Issuer        string   `json:"issuer"`
		JWKSURI       string   `json:"jwks_uri"`
		ResponseTypes []string `json:"response_types_supported"`
		SubjectTypes  []string `json:"subject_types_supported"`
		SigningAlgs   []string `json:"id_token_signing_alg_values_supported"`
	}{
		Issuer:        i.cfg.Issuer,
		JWKSURI:       jwksURI(i.cfg.Issuer),
		ResponseTypes: []string{"id_token"},
		SubjectTypes:  []string{"public"},
		SigningAlgs:   algs,
	})
	return out, err
}

// JWKSPath is where kube-apiserver serves its JSON Web Key Set.
const JWKSPath = "/openid/v1/jwks"

func jwksURI(issuer string) string {
	return strings.TrimRight(issuer, "/") + JWKSPath
}
