package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/podkit/podkit/objects"
)

// TokenIssuer issues the service account tokens that projected
// serviceAccountToken volume sources mount, as kube-apiserver's
// TokenRequest does for the kubelet. podkit.Orchestrator is one; it must
// be safe for concurrent use.
type TokenIssuer interface {
	CreateToken(ctx context.Context, namespace, serviceAccount string, spec objects.TokenRequestSpec) (objects.TokenRequestStatus, error)
}

// WithServiceAccountTokens sets where the tokens of projected
// serviceAccountToken volume sources come from (podkit.New sets the
// orchestrator). Each is asked for as the kubelet asks for it: for the
// pod's service account, bound to the pod, for the projection's audience
// (none: the issuer's API audiences) and expirationSeconds; it is kept
// and written again, atomically, once it is older than 80% of its
// lifetime or than 24 hours, so that the pod's containers, which read
// the file through the volume's "..data" link, see the new one without a
// restart. Without an issuer such a volume fails to mount.
func WithServiceAccountTokens(t TokenIssuer) Option {
	return func(cfg *config) error {
		if t == nil {
			return errors.New("nodeagent.WithServiceAccountTokens: issuer is nil")
		}
		cfg.tokens = &tokenManager{issuer: t, cache: map[tokenKey]*cachedToken{}}
		return nil
	}
}

// The kubelet's token manager's bounds: a token older than maxTokenTTL
// is replaced whatever its lifetime, as is one within 20% of its
// lifetime of expiring; expired tokens are dropped every
// tokenSweepInterval.
const (
	maxTokenTTL        = 24 * time.Hour
	tokenSweepInterval = time.Minute
)

// tokenManager keeps the tokens of the pods of the agents sharing it,
// as the kubelet's token manager does, keyed by what was asked for (the
// pod's UID among it).
type tokenManager struct {
	issuer TokenIssuer

	mu    sync.Mutex
	cache map[tokenKey]*cachedToken
	swept time.Time
}

type tokenKey struct {
	namespace, serviceAccount, audience string
	expirationSeconds                   int64
	podName, podUID                     string
}

type cachedToken struct {
	status            objects.TokenRequestStatus
	expirationSeconds int64
}

// requiresRefresh reports whether t is due for replacement at now: past
// 80% of its lifetime, or older than maxTokenTTL.
func (t *cachedToken) requiresRefresh(now time.Time) bool {
	exp := t.status.ExpirationTimestamp.Time
	ttl := time.Duration(t.expirationSeconds) * time.Second
	iat := exp.Add(-ttl)
	return now.After(iat.Add(maxTokenTTL)) || now.After(exp.Add(-ttl/5))
}

// token returns the cached token for k, or a new one when there is none
// or it is due for a refresh. A refresh that fails leaves the cached
// token in use until it expires, as the kubelet does.
func (m *tokenManager) token(ctx context.Context, now time.Time, k tokenKey) (string, error) {
	m.mu.Lock()
	m.sweepLocked(now)
	cur := m.cache[k]
	m.mu.Unlock()
	if cur != nil && !cur.requiresRefresh(now) {
		return cur.status.Token, nil
	}
	var auds []string
	if k.audience != "" {
		auds = []string{k.audience}
	}
	exp := k.expirationSeconds
	st, err := m.issuer.CreateToken(ctx, k.namespace, k.serviceAccount, objects.TokenRequestSpec{
		Audiences:         auds,
		ExpirationSeconds: &exp,
		BoundObjectRef:    &objects.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: k.podName, UID: k.podUID},
	})
	if err != nil {
		if cur == nil || now.After(cur.status.ExpirationTimestamp.Time) {
			return "", fmt.Errorf("failed to fetch token: %w", err)
		}
		return cur.status.Token, nil
	}
	m.mu.Lock()
	m.cache[k] = &cachedToken{status: st, expirationSeconds: exp}
	m.mu.Unlock()
	return st.Token, nil
}

// forgetPods drops the tokens of pods that are gone from the node, as the
// kubelet's pod cleanup deletes their tokens, rather than keep them until
// they expire. m may be nil (no issuer).
func (m *tokenManager) forgetPods(uids []string) {
	if m == nil || len(uids) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.cache {
		if slices.Contains(uids, k.podUID) {
			delete(m.cache, k)
		}
	}
}

// sweepLocked drops expired tokens, at most every tokenSweepInterval
// (a gone pod's go when its volumes are removed, see forgetPods).
func (m *tokenManager) sweepLocked(now time.Time) {
	if now.Sub(m.swept) < tokenSweepInterval {
		return
	}
	m.swept = now
	for k, t := range m.cache {
		if now.After(t.status.ExpirationTimestamp.Time) {
			delete(m.cache, k)
		}
	}
}

// ServiceAccountToken implements volumes.TokenSource: a token of the
// pod's service account bound to the pod.
func (r *resolver) ServiceAccountToken(audience string, expirationSeconds int64) (string, error) {
	m := r.a.cfg.tokens
	if m == nil {
		return "", errors.New("failed to fetch token: no service account token issuer (see nodeagent.WithServiceAccountTokens)")
	}
	p := r.pod
	return m.token(r.ctx, r.a.clock.Now(), tokenKey{
		namespace: p.Namespace, serviceAccount: p.Spec.ServiceAccountName, audience: audience,
		expirationSeconds: expirationSeconds, podName: p.Name, podUID: p.UID,
	})
}
