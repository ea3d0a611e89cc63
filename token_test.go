package podkit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/rbac"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/bolt"
)

const tokenManifest = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: reader, namespace: default}]
---
apiVersion: v1
kind: Pod
metadata: {name: caller}
spec:
  serviceAccountName: reader
  containers:
  - name: app
    image: example.com/app:1
    volumeMounts: [{name: host-token, mountPath: /var/run/secrets/host}]
  volumes:
  - name: host-token
    projected:
      sources:
      - serviceAccountToken: {path: token, audience: "https://host.example", expirationSeconds: 3600}
`

// payload decodes a JWT's claims, unverified.
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// A pod on a fake node gets a token of its service account in its
// projected volume; the host reviews what the pod would present, learns
// which pod and account call, and authorizes the call by the account's
// RBAC bindings. Once the pod is gone, its token is refused.
func TestServiceAccountTokenOnFakeNode(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	rt := registerFakeNodes(t, ctx, o, 1)["n1"]
	objs, err := o.Scheme().Decode(strings.NewReader(tokenManifest))
	require.NoError(t, err)
	require.NoError(t, o.Apply(ctx, objs...))
	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "caller"}}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, o.WaitFor(wctx, pod, podkit.Available))

	var dir string
	for _, c := range rt.Configs() {
		for _, m := range c.Config.Mounts {
			if m.ContainerPath == "/var/run/secrets/host" {
				dir = m.HostPath
			}
		}
	}
	require.NotEmpty(t, dir, "no mount of the token volume")
	tok, err := os.ReadFile(filepath.Join(dir, "token"))
	require.NoError(t, err)
	c := payload(t, string(tok))
	assert.Equal(t, podkit.DefaultServiceAccountIssuer, c["iss"])
	assert.Equal(t, "https://host.example", c["aud"])
	assert.Equal(t, float64(3600), c["exp"].(float64)-c["iat"].(float64))

	st, err := o.ReviewToken(ctx, string(tok), []string{"https://host.example"})
	require.NoError(t, err)
	require.True(t, st.Authenticated, st.Error)
	assert.Equal(t, "system:serviceaccount:default:reader", st.User.Username)
	assert.Equal(t, []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}, st.User.Groups)
	assert.Equal(t, objects.ExtraValue{"caller"}, st.User.Extra[objects.ExtraPodName])
	assert.Equal(t, objects.ExtraValue{pod.UID}, st.User.Extra[objects.ExtraPodUID])
	assert.Equal(t, objects.ExtraValue{"n1"}, st.User.Extra[objects.ExtraNodeName])
	assert.Equal(t, []string{"https://host.example"}, st.Audiences)

	// The reviewed user is the service account RBAC knows (bound to view
	// in default, once the aggregation controller filled view in).
	user := podkit.TokenUser(st.User)
	agenttest.Poll(t, 30*time.Second, 10*time.Millisecond, func() (bool, string) {
		d, err := o.Authorize(ctx, rbac.Request{User: user, Verb: "list", Resource: "configmaps", Namespace: "default"})
		return err == nil && d.Allowed, d.Reason
	})
	for _, req := range []rbac.Request{
		{User: user, Verb: "delete", Resource: "configmaps", Namespace: "default"},
		{User: user, Verb: "list", Resource: "configmaps", Namespace: "kube-system"},
		{User: user, Verb: "get", Resource: "secrets", Namespace: "default"},
	} {
		d, err := o.Authorize(ctx, req)
		require.NoError(t, err)
		assert.False(t, d.Allowed, "%s %s in %s", req.Verb, req.Resource, req.Namespace)
	}

	// For the API audiences (the issuer), the host's token is refused.
	st, err = o.ReviewToken(ctx, string(tok), nil)
	require.NoError(t, err)
	assert.False(t, st.Authenticated)
	assert.Equal(t, `token audiences ["https://host.example"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]`, st.Error)

	require.NoError(t, o.Delete(ctx, pod, podkit.GracePeriod(0)))
	agenttest.Poll(t, 30*time.Second, 10*time.Millisecond, func() (bool, string) {
		st, err := o.ReviewToken(ctx, string(tok), []string{"https://host.example"})
		return err == nil && !st.Authenticated && st.Error == "service account token has been invalidated", st.Error
	})
}

func TestCreateToken(t *testing.T) {
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	o := newOrchestrator(t, podkit.WithServiceAccountIssuer("https://host.example/cluster", "https://host.example", "api"),
		podkit.WithServiceAccountSigningKey(key))
	require.NoError(t, o.Create(ctx, &objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Name: "builder"}}))

	before := time.Now().Truncate(time.Second)
	st, err := o.CreateToken(ctx, "", "builder", objects.TokenRequestSpec{})
	require.NoError(t, err)
	assert.WithinRange(t, st.ExpirationTimestamp.Time, before.Add(time.Hour), time.Now().Add(time.Hour))
	c := payload(t, st.Token)
	assert.Equal(t, "https://host.example/cluster", c["iss"])
	assert.Equal(t, "system:serviceaccount:default:builder", c["sub"])
	assert.Equal(t, []any{"https://host.example", "api"}, c["aud"], "the API audiences")

	rs, err := o.ReviewToken(ctx, st.Token, []string{"api"})
	require.NoError(t, err)
	assert.True(t, rs.Authenticated, rs.Error)
	assert.Equal(t, []string{"api"}, rs.Audiences)

	_, err = o.CreateToken(ctx, "default", "builder", objects.TokenRequestSpec{ExpirationSeconds: ptr[int64](599)})
	assert.ErrorIs(t, err, objects.ErrInvalid)
	assert.EqualError(t, err, `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes`)
	_, err = o.CreateToken(ctx, "default", "nobody", objects.TokenRequestSpec{})
	assert.ErrorIs(t, err, store.ErrNotFound)

	keys, err := o.ServiceAccountKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, "https://host.example/cluster", keys.Issuer)
	require.Len(t, keys.Public, 1)
	assert.True(t, key.PublicKey.Equal(keys.Public[0]))
	var disc struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	require.NoError(t, json.Unmarshal(keys.OpenIDConfiguration, &disc))
	assert.Equal(t, "https://host.example/cluster/openid/v1/jwks", disc.JWKSURI)
	assert.Equal(t, []string{"ES384"}, disc.Algs)
	assert.Contains(t, string(keys.JWKS), `"crv":"P-384"`)

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	_, err = podkit.New(podkit.WithServiceAccountSigningKey(small))
	assert.EqualError(t, err, "WithServiceAccountSigningKey: an RSA key of 1024 bits is too small to sign service account tokens: use 2048 or more")
	_, err = podkit.New(podkit.WithServiceAccountIssuer(""))
	assert.EqualError(t, err, "WithServiceAccountIssuer: issuer is empty")
}

// The signing key the orchestrator generated is kept in its store: an
// orchestrator started again on the same bolt file accepts the tokens
// issued before, and refuses them once their service account is gone.
func TestServiceAccountTokenSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "podkit.db")
	open := func() *podkit.Orchestrator {
		s, err := bolt.Open(path)
		require.NoError(t, err)
		o, err := podkit.New(podkit.WithStore(s))
		require.NoError(t, err)
		t.Cleanup(func() { o.Close(); s.Close() })
		return o
	}
	first := open()
	sa := &objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Name: "app"}}
	require.NoError(t, first.Create(ctx, sa))
	st, err := first.CreateToken(ctx, "default", "app", objects.TokenRequestSpec{})
	require.NoError(t, err)
	k1, err := first.ServiceAccountKeys(ctx)
	require.NoError(t, err)
	require.NoError(t, first.Close())
	require.NoError(t, first.Store().Close())

	second := open()
	rs, err := second.ReviewToken(ctx, st.Token, nil)
	require.NoError(t, err)
	assert.True(t, rs.Authenticated, rs.Error)
	k2, err := second.ServiceAccountKeys(ctx)
	require.NoError(t, err)
	assert.JSONEq(t, string(k1.JWKS), string(k2.JWKS), "the same key")
	var sec objects.Secret
	require.NoError(t, second.Get(ctx, objects.Key{Namespace: "kube-system", Name: podkit.ServiceAccountKeySecret}, &sec))

	require.NoError(t, second.Delete(ctx, sa))
	rs, err = second.ReviewToken(ctx, st.Token, nil)
	require.NoError(t, err)
	assert.False(t, rs.Authenticated)
	assert.Equal(t, `serviceaccounts "app" not found`, rs.Error)
}
