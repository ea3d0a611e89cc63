package satoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

const testIssuer = "https://issuer.example"

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// world is a store with a service account "app" and its pod "web" on
// node "n1", a Secret "s", and an issuer over them on a fake clock.
type world struct {
	t      *testing.T
	store  store.Store
	clock  *clockwork.FakeClock
	issuer *Issuer
	sa     *objects.ServiceAccount
	pod    *objects.Pod
	node   *objects.Node
	secret *objects.Secret
}

// ecKey is a P-256 key: quick to make, where a test does not care which
// key signs.
func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func newWorld(t *testing.T, cfg Config) *world {
	t.Helper()
	clk := clockwork.NewFakeClockAt(epoch)
	s, err := memdb.New(memdb.WithScheme(objects.NewScheme()), memdb.WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	w := &world{t: t, store: s, clock: clk}
	w.sa = &objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "app"}}
	w.node = &objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1"}}
	w.pod = &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}, Spec: objects.PodSpec{
		ServiceAccountName: "app", NodeName: "n1", Containers: []objects.Container{{Name: "app", Image: "app:1"}}}}
	w.secret = &objects.Secret{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "s"}}
	w.create(w.sa, w.node, w.pod, w.secret)
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	cfg.Clock = clk
	w.issuer, err = New(s, cfg)
	require.NoError(t, err)
	return w
}

func (w *world) create(objs ...objects.Object) {
	w.t.Helper()
	require.NoError(w.t, w.store.Update(context.Background(), func(tx store.Tx) error {
		for _, o := range objs {
			w.store.Scheme().Default(o)
			if err := tx.Create(o); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (w *world) remove(kind string, obj objects.Object) {
	w.t.Helper()
	zero := int64(0)
	require.NoError(w.t, w.store.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete(kind, obj.GetObjectMeta().Key(), store.DeleteOptions{GracePeriodSeconds: &zero})
		return err
	}))
}

// recreate deletes obj and creates it again under its name, with a new
// uid.
func (w *world) recreate(kind string, obj objects.Object) string {
	w.t.Helper()
	old := obj.GetObjectMeta().UID
	w.remove(kind, obj)
	m := obj.GetObjectMeta()
	m.UID, m.ResourceVersion, m.CreationTimestamp = "", "", objects.Time{}
	w.create(obj)
	require.NotEqual(w.t, old, m.UID)
	return m.UID
}

func (w *world) token(spec objects.TokenRequestSpec) string {
	w.t.Helper()
	st, err := w.issuer.CreateToken(context.Background(), "default", "app", spec)
	require.NoError(w.t, err)
	return st.Token
}

func (w *world) podToken(auds ...string) string {
	return w.token(objects.TokenRequestSpec{Audiences: auds, BoundObjectRef: &objects.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web", UID: w.pod.UID}})
}

func (w *world) review(token string, auds ...string) objects.TokenReviewStatus {
	w.t.Helper()
	st, err := w.issuer.ReviewToken(context.Background(), token, auds)
	require.NoError(w.t, err)
	return st
}

// refused checks that token is refused with message.
func (w *world) refused(token, message string, auds ...string) {
	w.t.Helper()
	st := w.review(token, auds...)
	assert.False(w.t, st.Authenticated, "authenticated: %+v", st)
	assert.Equal(w.t, message, st.Error)
	assert.Empty(w.t, st.User.Username)
}

// claims reads a token's header and claims without checking them.
func claims(t *testing.T, token string) (jose.Header, map[string]any) {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.ES384, jose.ES512})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, tok.UnsafeClaimsWithoutVerification(&m))
	return tok.Headers[0], m
}

func TestTokenClaims(t *testing.T) {
	w := newWorld(t, Config{})
	st, err := w.issuer.CreateToken(context.Background(), "default", "app", objects.TokenRequestSpec{
		Audiences: []string{"api", "vault"}, ExpirationSeconds: ptr[int64](1200),
		BoundObjectRef: &objects.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web"},
	})
	require.NoError(t, err)
	assert.Equal(t, epoch.Add(1200*time.Second), st.ExpirationTimestamp.Time)

	hdr, c := claims(t, st.Token)
	assert.Equal(t, "RS256", hdr.Algorithm, "the generated key is RSA")
	keys, err := w.issuer.Keys(context.Background())
	require.NoError(t, err)
	kid, err := keyID(keys.Public[0])
	require.NoError(t, err)
	assert.Equal(t, kid, hdr.KeyID)

	jti, _ := c["jti"].(string)
	_, err = uuid.Parse(jti)
	assert.NoError(t, err, "jti %q", jti)
	delete(c, "jti")
	want := map[string]any{
		"iss": testIssuer,
		"sub": "system:serviceaccount:default:app",
		"aud": []any{"api", "vault"},
		"iat": float64(epoch.Unix()),
		"nbf": float64(epoch.Unix()),
		"exp": float64(epoch.Unix() + 1200),
		"kubernetes.io": map[string]any{
			"namespace":      "default",
			"serviceaccount": map[string]any{"name": "app", "uid": w.sa.UID},
			"pod":            map[string]any{"name": "web", "uid": w.pod.UID},
			"node":           map[string]any{"name": "n1", "uid": w.node.UID},
		},
	}
	assert.Equal(t, want, c)

	// Bound to a Secret: the secret's claim, no pod's or node's.
	_, c = claims(t, w.token(objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: "s", UID: w.secret.UID}}))
	assert.Equal(t, map[string]any{
		"namespace":      "default",
		"serviceaccount": map[string]any{"name": "app", "uid": w.sa.UID},
		"secret":         map[string]any{"name": "s", "uid": w.secret.UID},
	}, c["kubernetes.io"])
	assert.Equal(t, testIssuer, c["aud"], "no audiences asked for: the API audiences (one is written as a string)")
	assert.Equal(t, float64(epoch.Unix()+3600), c["exp"], "default lifetime")

	// A pod on a node that is gone still names its node.
	w.remove("Node", w.node)
	_, c = claims(t, w.podToken())
	assert.Equal(t, map[string]any{"name": "n1"}, c["kubernetes.io"].(map[string]any)["node"])
}

// A pod-bound token asked for 3607 seconds for the API audiences is
// valid for a year, its warnafter the hour and seven seconds asked for,
// as kube-apiserver extends the tokens it mounts in pods; its status
// gives the time asked for.
func TestTokenExpirationExtension(t *testing.T) {
	w := newWorld(t, Config{APIAudiences: []string{"api", "other"}})
	bound := &objects.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web"}
	st, err := w.issuer.CreateToken(context.Background(), "default", "app", objects.TokenRequestSpec{
		Audiences: []string{"api"}, ExpirationSeconds: ptr[int64](3607), BoundObjectRef: bound})
	require.NoError(t, err)
	assert.Equal(t, epoch.Add(3607*time.Second), st.ExpirationTimestamp.Time)
	_, c := claims(t, st.Token)
	assert.Equal(t, float64(epoch.Unix()+365*24*3600), c["exp"])
	assert.Equal(t, float64(epoch.Unix()+3607), c["kubernetes.io"].(map[string]any)["warnafter"])
	w.clock.Advance(2 * time.Hour)
	assert.True(t, w.review(st.Token, "api").Authenticated, "past warnafter, still valid")

	for name, spec := range map[string]objects.TokenRequestSpec{
		"another audience": {Audiences: []string{"vault"}, ExpirationSeconds: ptr[int64](3607), BoundObjectRef: bound},
		"not pod-bound":    {ExpirationSeconds: ptr[int64](3607)},
		"another lifetime": {ExpirationSeconds: ptr[int64](3608), BoundObjectRef: bound},
	} {
		_, c := claims(t, w.token(spec))
		assert.Equal(t, c["iat"].(float64)+float64(*spec.ExpirationSeconds), c["exp"], name)
		assert.NotContains(t, c["kubernetes.io"], "warnafter", name)
	}
}

func TestCreateTokenRefusals(t *testing.T) {
	w := newWorld(t, Config{})
	other := &objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "other"}}
	w.create(other)
	ctx := context.Background()
	for _, tc := range []struct {
		name, sa string
		spec     objects.TokenRequestSpec
		want     string
		is       error
	}{
		{"no service account", "ghost", objects.TokenRequestSpec{}, `serviceaccounts "ghost" not found`, store.ErrNotFound},
		{"too short", "app", objects.TokenRequestSpec{ExpirationSeconds: ptr[int64](599)},
			`TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes`, objects.ErrInvalid},
		{"too long", "app", objects.TokenRequestSpec{ExpirationSeconds: ptr[int64](1<<32 + 1)},
			`TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds`, objects.ErrInvalid},
		{"no such pod", "app", objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "nope"}},
			`pods "nope" not found`, store.ErrNotFound},
		{"no such secret", "app", objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: "nope"}},
			`secrets "nope" not found`, store.ErrNotFound},
		{"pod of another account", "other", objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web"}},
			`cannot bind token for serviceaccount "other" to pod running with different serviceaccount name.`, nil},
		{"pod of another uid", "app", objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web", UID: "old"}},
			`Operation cannot be fulfilled on Pod "web": the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated`, store.ErrConflict},
		{"secret of another uid", "app", objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: "s", UID: "old"}},
			`Operation cannot be fulfilled on Secret "s": the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated`, store.ErrConflict},
		{"another kind", "app", objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "ConfigMap", APIVersion: "v1", Name: "c"}},
			"cannot bind token to object of type /v1, Kind=ConfigMap", nil},
		{"a Pod of another group", "app", objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "Pod", APIVersion: "example.com/v1", Name: "web"}},
			"cannot bind token to object of type example.com/v1, Kind=Pod", nil},
	} {
		_, err := w.issuer.CreateToken(ctx, "default", tc.sa, tc.spec)
		if !assert.Error(t, err, tc.name) {
			continue
		}
		msg, _ := strings.CutSuffix(err.Error(), ": "+errorText(tc.is))
		assert.Equal(t, tc.want, msg, tc.name)
		if tc.is != nil {
			assert.ErrorIs(t, err, tc.is, tc.name)
		}
	}
}

func errorText(err error) string {
	if err == nil || errors.Is(err, objects.ErrInvalid) {
		return "\x00"
	}
	return err.Error()
}

func TestReviewToken(t *testing.T) {
	w := newWorld(t, Config{APIAudiences: []string{"api"}})
	tok := w.podToken("api", "host")
	_, c := claims(t, tok)
	st := w.review(tok, "host", "elsewhere")
	assert.Equal(t, objects.TokenReviewStatus{
		Authenticated: true,
		User: objects.UserInfo{
			Username: "system:serviceaccount:default:app",
			UID:      w.sa.UID,
			Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"},
			Extra: map[string]objects.ExtraValue{
				objects.ExtraPodName:      {"web"},
				objects.ExtraPodUID:       {w.pod.UID},
				objects.ExtraNodeName:     {"n1"},
				objects.ExtraNodeUID:      {w.node.UID},
				objects.ExtraCredentialID: {"JTI=" + c["jti"].(string)},
			},
		},
		Audiences: []string{"host"},
	}, st)

	// No audiences: the API audiences.
	assert.Equal(t, []string{"api"}, w.review(tok).Audiences)
	hostOnly := w.podToken("host")
	w.refused(hostOnly, `token audiences ["host"] is invalid for the target audiences ["api"]`)
	w.refused(hostOnly, `token audiences ["host"] is invalid for the target audiences ["vault" "db"]`, "vault", "db")

	// A token bound to nothing has no extra but its ID.
	st = w.review(w.token(objects.TokenRequestSpec{}))
	assert.True(t, st.Authenticated)
	assert.Len(t, st.User.Extra, 1)
	assert.Contains(t, st.User.Extra, objects.ExtraCredentialID)
}

func TestReviewRefusesForgedTokens(t *testing.T) {
	w := newWorld(t, Config{Signer: ecKey(t)})
	tok := w.podToken()
	require.True(t, w.review(tok).Authenticated)

	// Same issuer, same claims, another key.
	forger := newWorld(t, Config{Signer: ecKey(t)})
	forged := forgeLike(t, forger, tok)
	w.refused(forged, "go-jose/go-jose: error in cryptographic primitive")

	// The payload of a valid token changed to another account.
	parts := strings.Split(tok, ".")
	_, c := claims(t, tok)
	c["sub"] = "system:serviceaccount:kube-system:admin"
	b, err := json.Marshal(c)
	require.NoError(t, err)
	parts[1] = b64(b)
	w.refused(strings.Join(parts, "."), "go-jose/go-jose: error in cryptographic primitive")

	w.refused("not-a-token", "invalid bearer token")
	w.refused(strings.Join(parts[:2], ".")+".", "go-jose/go-jose: error in cryptographic primitive") // no signature

	other := newWorld(t, Config{Issuer: "https://elsewhere.example", Signer: ecKey(t)})
	w.refused(other.podToken(), `token issuer "https://elsewhere.example" is invalid`)

	// An unsigned token ("alg": "none") is not even parsed.
	none := b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	w.refused(none, "invalid bearer token")
}

// forgeLike signs tok's claims with forger's key.
func forgeLike(t *testing.T, forger *world, tok string) string {
	t.Helper()
	_, c := claims(t, tok)
	ks, err := forger.issuer.keySet(context.Background())
	require.NoError(t, err)
	out, err := jwt.Signed(ks.signer).Claims(c).Serialize()
	require.NoError(t, err)
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestReviewRefusesByTime(t *testing.T) {
	w := newWorld(t, Config{Signer: ecKey(t)})
	tok := w.token(objects.TokenRequestSpec{ExpirationSeconds: ptr[int64](600)})
	w.clock.Advance(600*time.Second + jwt.DefaultLeeway)
	assert.True(t, w.review(tok).Authenticated, "expired, but within the minute's leeway")
	w.clock.Advance(time.Second)
	w.refused(tok, "service account token has expired")

	// Issued by an orchestrator whose clock is ahead: not valid yet here.
	ahead := clockwork.NewFakeClockAt(w.clock.Now().Add(2 * time.Minute))
	early, err := New(w.store, Config{Issuer: testIssuer, Signer: w.issuer.cfg.Signer, Clock: ahead})
	require.NoError(t, err)
	st, err := early.CreateToken(context.Background(), "default", "app", objects.TokenRequestSpec{})
	require.NoError(t, err)
	w.refused(st.Token, "service account token is not valid yet")
	w.clock.Advance(time.Minute)
	assert.True(t, w.review(st.Token).Authenticated, "within the leeway of its nbf")
}

func TestReviewRefusesWhatIsGone(t *testing.T) {
	t.Run("service account deleted", func(t *testing.T) {
		w := newWorld(t, Config{Signer: ecKey(t)})
		tok := w.token(objects.TokenRequestSpec{})
		w.remove("ServiceAccount", w.sa)
		w.refused(tok, `serviceaccounts "app" not found`)
	})
	t.Run("service account recreated", func(t *testing.T) {
		w := newWorld(t, Config{Signer: ecKey(t)})
		tok := w.token(objects.TokenRequestSpec{})
		old := w.sa.UID
		uid := w.recreate("ServiceAccount", w.sa)
		w.refused(tok, "service account UID ("+uid+") does not match claim ("+old+")")
		assert.True(t, w.review(w.token(objects.TokenRequestSpec{})).Authenticated, "a token of the new account")
	})
	t.Run("pod deleted", func(t *testing.T) {
		w := newWorld(t, Config{Signer: ecKey(t)})
		tok := w.podToken()
		w.remove("Pod", w.pod)
		w.refused(tok, "service account token has been invalidated")
	})
	t.Run("pod recreated", func(t *testing.T) {
		w := newWorld(t, Config{Signer: ecKey(t)})
		tok := w.podToken()
		old := w.pod.UID
		uid := w.recreate("Pod", w.pod)
		w.refused(tok, "pod UID ("+uid+") does not match service account pod ref claim ("+old+")")
	})
	t.Run("pod terminating", func(t *testing.T) {
		w := newWorld(t, Config{Signer: ecKey(t)})
		tok := w.podToken()
		grace := int64(30)
		require.NoError(t, w.store.Update(context.Background(), func(tx store.Tx) error {
			_, err := tx.Delete("Pod", w.pod.Key(), store.DeleteOptions{GracePeriodSeconds: &grace})
			return err
		}))
		// As in Kubernetes, valid while the pod stops: until a minute
		// after its deletionTimestamp, the end of its grace period.
		assert.True(t, w.review(tok).Authenticated, "within the grace period")
		w.clock.Advance(30*time.Second + jwt.DefaultLeeway)
		assert.True(t, w.review(tok).Authenticated, "within the leeway")
		w.clock.Advance(time.Second)
		w.refused(tok, "service account token has been invalidated")
	})
	t.Run("secret deleted", func(t *testing.T) {
		w := newWorld(t, Config{Signer: ecKey(t)})
		tok := w.token(objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: "s"}})
		require.True(t, w.review(tok).Authenticated)
		w.remove("Secret", w.secret)
		w.refused(tok, "service account token has been invalidated")
	})
	t.Run("secret recreated", func(t *testing.T) {
		w := newWorld(t, Config{Signer: ecKey(t)})
		tok := w.token(objects.TokenRequestSpec{BoundObjectRef: &objects.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: "s"}})
		old := w.secret.UID
		uid := w.recreate("Secret", w.secret)
		w.refused(tok, "secret UID ("+uid+") does not match service account secret ref claim ("+old+")")
	})
}

// The generated key is kept in the store: an issuer made later over it
// (an orchestrator started again on a durable store) verifies the tokens
// of the first, and signs with the same key.
func TestStoredKey(t *testing.T) {
	w := newWorld(t, Config{})
	tok := w.podToken()
	var sec *objects.Secret
	require.NoError(t, w.store.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get("Secret", objects.Key{Namespace: KeySecretNamespace, Name: KeySecretName})
		if err == nil {
			sec = o.(*objects.Secret)
		}
		return err
	}))
	assert.Contains(t, string(sec.Data[KeySecretKey]), "-----BEGIN PRIVATE KEY-----")
	assert.True(t, *sec.Immutable)

	again, err := New(w.store, Config{Issuer: testIssuer, Clock: w.clock})
	require.NoError(t, err)
	st, err := again.ReviewToken(context.Background(), tok, nil)
	require.NoError(t, err)
	assert.True(t, st.Authenticated, st.Error)
	k1, err := w.issuer.Keys(context.Background())
	require.NoError(t, err)
	k2, err := again.Keys(context.Background())
	require.NoError(t, err)
	assert.Equal(t, k1.JWKS, k2.JWKS)
}

// A given key signs (ES256 for P-256); a key given to verify with
// accepts the tokens of a previous key, which without it are refused.
func TestGivenKeys(t *testing.T) {
	oldKey := ecKey(t)
	w := newWorld(t, Config{Signer: oldKey})
	tok := w.podToken()
	hdr, _ := claims(t, tok)
	assert.Equal(t, "ES256", hdr.Algorithm)

	newKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, tc := range []struct {
		verify []crypto.PublicKey
		ok     bool
	}{{nil, false}, {[]crypto.PublicKey{oldKey.Public()}, true}} {
		rotated, err := New(w.store, Config{Issuer: testIssuer, Signer: newKey, VerificationKeys: tc.verify, Clock: w.clock})
		require.NoError(t, err)
		st, err := rotated.ReviewToken(context.Background(), tok, nil)
		require.NoError(t, err)
		assert.Equal(t, tc.ok, st.Authenticated, "verification keys %v: %s", tc.verify, st.Error)
		keys, err := rotated.Keys(context.Background())
		require.NoError(t, err)
		assert.Len(t, keys.Public, 1+len(tc.verify))
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	assert.EqualError(t, CheckSigner(small), "an RSA key of 1024 bits is too small to sign service account tokens: use 2048 or more")
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	assert.EqualError(t, CheckSigner(p224), "an ECDSA key on curve P-224 cannot sign service account tokens: use P-256, P-384 or P-521")
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	assert.EqualError(t, CheckSigner(ed), "a ed25519.PublicKey cannot sign service account tokens: use an RSA or ECDSA key")
}

// The JSON Web Key Set and discovery document let a verifier that knows
// only them check a token.
func TestKeysDocuments(t *testing.T) {
	w := newWorld(t, Config{Issuer: "https://host.example/tenant/"})
	tok := w.podToken()
	keys, err := w.issuer.Keys(context.Background())
	require.NoError(t, err)

	var set jose.JSONWebKeySet
	require.NoError(t, json.Unmarshal(keys.JWKS, &set))
	require.Len(t, set.Keys, 1)
	k := set.Keys[0]
	assert.Equal(t, "sig", k.Use)
	assert.Equal(t, "RS256", k.Algorithm)
	assert.True(t, k.IsPublic())
	hdr, _ := claims(t, tok)
	assert.Equal(t, hdr.KeyID, k.KeyID)

	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	var c jwt.Claims
	require.NoError(t, parsed.Claims(set.Key(hdr.KeyID)[0].Key, &c))
	require.NoError(t, c.Validate(jwt.Expected{Issuer: "https://host.example/tenant/", AnyAudience: []string{"https://host.example/tenant/"}, Time: epoch}))

	var disc map[string]any
	require.NoError(t, json.Unmarshal(keys.OpenIDConfiguration, &disc))
	assert.Equal(t, map[string]any{
		"issuer":                                "https://host.example/tenant/",
		"jwks_uri":                              "https://host.example/tenant/openid/v1/jwks",
		"response_types_supported":              []any{"id_token"},
		"subject_types_supported":               []any{"public"},
		"id_token_signing_alg_values_supported": []any{"RS256"},
	}, disc)
}

func ptr[T any](v T) *T { return &v }
