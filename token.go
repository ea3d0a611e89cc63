package podkit

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"

	"github.com/podkit/podkit/internal/satoken"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/rbac"
)

// DefaultServiceAccountIssuer is the iss claim of service account tokens
// unless WithServiceAccountIssuer sets another: the one kubeadm gives a
// cluster.
const DefaultServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// ServiceAccountKeySecret names the Secret (in kube-system) that keeps
// the key service account tokens are signed with, unless
// WithServiceAccountSigningKey gives one.
const ServiceAccountKeySecret = satoken.KeySecretName

type tokenConfig struct {
	issuer    string
	audiences []string
	signer    crypto.Signer
	verify    []crypto.PublicKey
}

// WithServiceAccountIssuer sets the iss claim of the service account
// tokens the orchestrator issues (default DefaultServiceAccountIssuer)
// and their API audiences (default the issuer alone), as
// kube-apiserver's --service-account-issuer and --api-audiences: the
// audiences of a token request that names none, such as a projected
// serviceAccountToken without an audience, and those ReviewToken accepts
// when given none. A host that lets others verify its pods' tokens (see
// ServiceAccountKeys) makes the issuer a URL it serves.
func WithServiceAccountIssuer(issuer string, apiAudiences ...string) Option {
	return func(c *config) error {
		if issuer == "" {
			return errors.New("WithServiceAccountIssuer: issuer is empty")
		}
		if slices.Contains(apiAudiences, "") {
			return errors.New("WithServiceAccountIssuer: an audience is empty")
		}
		c.tokens.issuer, c.tokens.audiences = issuer, slices.Clone(apiAudiences)
		return nil
	}
}

// WithServiceAccountSigningKey sets the key service account tokens are
// signed with, as kube-apiserver's --service-account-signing-key-file:
// an RSA key of 2048 bits or more (RS256) or an ECDSA key on P-256,
// P-384 or P-521 (ES256, ES384, ES512), in memory or behind any
// crypto.Signer (a hardware module, a KMS). verifyAlso are further
// public keys whose tokens are accepted (--service-account-key-file),
// such as the previous signing key during a rotation.
//
// Without it the orchestrator generates an RSA key of 2048 bits the first
// time a token is issued or reviewed, and keeps it in its store, in the
// Secret kube-system/podkit-service-account-signing-key
// (ServiceAccountKeySecret): an orchestrator started again on a durable
// store (store/bolt, store/etcd), or a standby taking over, finds it
// there, so that the tokens issued before stay valid. Deleting that
// Secret makes the next orchestrator started generate another key,
// which invalidates every token issued with the old one. The key is as
// secret as the tokens it signs: whoever reads the store can mint them.
func WithServiceAccountSigningKey(key crypto.Signer, verifyAlso ...crypto.PublicKey) Option {
	return func(c *config) error {
		if key == nil {
			return errors.New("WithServiceAccountSigningKey: key is nil")
		}
		if err := satoken.CheckSigner(key); err != nil {
			return fmt.Errorf("WithServiceAccountSigningKey: %w", err)
		}
		c.tokens.signer, c.tokens.verify = key, slices.Clone(verifyAlso)
		return nil
	}
}

func (o *Orchestrator) newTokenIssuer() (*satoken.Issuer, error) {
	tc := o.cfg.tokens
	if tc.issuer == "" {
		tc.issuer = DefaultServiceAccountIssuer
	}
	return satoken.New(o.store, satoken.Config{
		Issuer: tc.issuer, APIAudiences: tc.audiences,
		Signer: tc.signer, VerificationKeys: tc.verify,
		Clock: o.clock,
	})
}

// CreateToken issues a token of a service account, as a Kubernetes
// TokenRequest (authentication.k8s.io/v1, serviceaccounts/token) does:
// a JWT signed by the orchestrator's key (see
// WithServiceAccountSigningKey) whose claims are Kubernetes' — iss (see
// WithServiceAccountIssuer), sub system:serviceaccount:NAMESPACE:NAME,
// aud, exp, iat, nbf, jti, and kubernetes.io with the namespace, the
// service account's name and uid, and the pod (and its node) or Secret
// the token is bound to.
//
// The service account must exist. spec.audiences defaults to the API
// audiences, spec.expirationSeconds to 3600 and must be at least 600
// (else an error wrapping objects.ErrInvalid: `TokenRequest.authentication.k8s.io
// "" is invalid: spec.expirationSeconds: Invalid value: 599: may not
// specify a duration less than 10 minutes`). A spec.boundObjectRef names
// a Pod running as the service account or a Secret, of its namespace,
// which must exist (else an error wrapping store.ErrNotFound) and have
// the uid it gives, if any (else store.ErrConflict); the token is
// refused once that object is gone. A host hands such tokens to its
// pods, or lets the node agents do it with a projected
// serviceAccountToken volume, and checks them with ReviewToken.
//
//	st, err := o.CreateToken(ctx, "default", "builder", objects.TokenRequestSpec{
//		Audiences: []string{"https://host.example"},
//	})
//	// st.Token, st.ExpirationTimestamp
func (o *Orchestrator) CreateToken(ctx context.Context, namespace, serviceAccount string, spec objects.TokenRequestSpec) (objects.TokenRequestStatus, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return o.tokens.CreateToken(ctx, namespace, serviceAccount, spec)
}

// ReviewToken authenticates a service account token, as a Kubernetes
// TokenReview (authentication.k8s.io/v1) does, for a host whose API the
// pods call with the token they were given. The status says whether it
// is valid (Authenticated) and who presented it: User is
// system:serviceaccount:NAMESPACE:NAME, with the service account's uid,
// in the groups system:serviceaccounts, system:serviceaccounts:NAMESPACE
// and system:authenticated, and with the extra
// authentication.kubernetes.io/pod-name and pod-uid of the pod the token
// is bound to, node-name and node-uid of its node, and credential-id
// (JTI=, the token's ID), as Kubernetes sets them. TokenUser makes it a
// user for Authorize:
//
//	st, err := o.ReviewToken(ctx, bearer, []string{"https://host.example"})
//	if err != nil { ... the store could not be read }
//	if !st.Authenticated { ... 401, st.Error says why }
//	d, err := o.Authorize(ctx, rbac.Request{User: podkit.TokenUser(st.User),
//		Verb: "get", Resource: "configmaps", Namespace: "default"})
//
// The token must be signed by a key of the orchestrator's (that of
// WithServiceAccountSigningKey or its verifyAlso keys, or the stored
// one), with its issuer, for one of audiences (none: the API audiences;
// Audiences then lists those it is for), not expired nor before its nbf
// (with a minute's leeway, as Kubernetes allows); its service account
// must exist with the uid the token names, as must the pod or Secret it
// is bound to. As in Kubernetes, a bound pod being deleted still has a
// valid token until a minute after its deletionTimestamp (its grace
// period's end), so that it may call home while it stops. Anything else
// gives Authenticated false and Error as Kubernetes words it ("service
// account token has expired", "service account token has been
// invalidated", ...). The error returned is the store's, when it could
// not be read.
func (o *Orchestrator) ReviewToken(ctx context.Context, token string, audiences []string) (objects.TokenReviewStatus, error) {
	return o.tokens.ReviewToken(ctx, token, audiences)
}

// TokenUser returns the user of a TokenReview's status for Authorize and
// RulesFor: its name and groups, which RBAC decides by.
func TokenUser(u objects.UserInfo) rbac.UserInfo {
	return rbac.UserInfo{Name: u.Username, Groups: slices.Clone(u.Groups)}
}

// ServiceAccountKeys is what a host publishes for others to verify the
// orchestrator's service account tokens without it, as kube-apiserver's
// service account issuer discovery serves them.
type ServiceAccountKeys struct {
	// Issuer is the tokens' iss claim.
	Issuer string
	// Public are the keys tokens are verified with, the signing key's
	// first.
	Public []crypto.PublicKey
	// JWKS is the JSON Web Key Set of Public (each with its kid, the one
	// tokens name, alg and use "sig"), as kube-apiserver serves it at
	// /openid/v1/jwks.
	JWKS []byte
	// OpenIDConfiguration is the OpenID Connect discovery document, as
	// kube-apiserver serves it at /.well-known/openid-configuration: a
	// host that serves it at its issuer's URL, and JWKS at jwks_uri (the
	// issuer followed by /openid/v1/jwks), lets any OIDC library verify
	// its pods' tokens.
	OpenIDConfiguration []byte
}

// ServiceAccountKeys returns the keys the orchestrator's service account
// tokens are verified with, generating the signing key if it has none
// yet (see WithServiceAccountSigningKey).
func (o *Orchestrator) ServiceAccountKeys(ctx context.Context) (ServiceAccountKeys, error) {
	k, err := o.tokens.Keys(ctx)
	if err != nil {
		return ServiceAccountKeys{}, err
	}
	return ServiceAccountKeys{Issuer: o.tokens.Issuer(), Public: k.Public, JWKS: k.JWKS, OpenIDConfiguration: k.OpenIDConfiguration}, nil
}
