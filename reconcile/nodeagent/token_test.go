package nodeagent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podkit/podkit/internal/satoken"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime/fake"
)

// tokenEnv is an env whose agent mounts service account tokens of an
// issuer on the env's clock.
func tokenEnv(t *testing.T) (*env, *satoken.Issuer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var iss *satoken.Issuer
	e := newEnv(t, envOpt{fakeClock: true, agent: []nodeagent.Option{nodeagent.WithServiceAccountTokens(lazyIssuer{&iss})}})
	iss, err = satoken.New(e.store, satoken.Config{Issuer: "https://podkit.test", Signer: key, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return e, iss
}

// lazyIssuer lets the agent start before the issuer over its store is
// made; no pod asks for a token before.
type lazyIssuer struct{ i **satoken.Issuer }

func (l lazyIssuer) CreateToken(ctx context.Context, ns, sa string, spec objects.TokenRequestSpec) (objects.TokenRequestStatus, error) {
	return (*l.i).CreateToken(ctx, ns, sa, spec)
}

func tokenPod(e *env, name, sa string) *objects.Pod {
	short, long := int64(600), int64(48*3600)
	p := e.pod(name, "app")
	p.Spec.ServiceAccountName = sa
	p.Spec.Volumes = []objects.Volume{{Name: "tokens", VolumeSource: objects.VolumeSource{Projected: &objects.ProjectedVolumeSource{
		Sources: []objects.VolumeProjection{
			{ServiceAccountToken: &objects.ServiceAccountTokenProjection{Path: "host", Audience: "https://host.example", ExpirationSeconds: &short}},
			{ServiceAccountToken: &objects.ServiceAccountTokenProjection{Path: "api/token", ExpirationSeconds: &long}},
		},
	}}}}
	p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "tokens", MountPath: "/var/run/secrets/tokens"}}
	return p
}

func readToken(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		t.Fatalf("token %s: %q, %v", path, b, err)
	}
	return string(b)
}

// waitNewToken waits until the token at path is not old and returns it.
func waitNewToken(t *testing.T, path, old string) string {
	t.Helper()
	var cur string
	if !waitFor(waitTimeout, func() bool { b, _ := os.ReadFile(path); cur = string(b); return cur != "" && cur != old }) {
		t.Fatalf("%s: still the old token after %v", path, waitTimeout)
	}
	return cur
}

// A projected serviceAccountToken is written for the pod, bound to it and
// its node, for the projection's audience (else the issuer's), and
// replaced, without a restart, once past 80% of its lifetime or a day
// old, as the kubelet refreshes it.
func TestServiceAccountTokenVolume(t *testing.T) {
	e, iss := tokenEnv(t)
	ctx := context.Background()
	sa := &objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Name: "app", Namespace: "default"}}
	e.create(sa, tokenPod(e, "tok", "app"))
	pod := e.waitPod("tok", "running", running)
	dir := mountsOf(t, e.rt, "tok", "app")["/var/run/secrets/tokens"].HostPath
	if dir == "" {
		t.Fatal("no mount of the token volume")
	}
	hostPath, apiPath := filepath.Join(dir, "host"), filepath.Join(dir, "api", "token")
	host, api := readToken(t, hostPath), readToken(t, apiPath)
	fileIs(t, hostPath, host, 0o644)

	review := func(token string, auds ...string) objects.TokenReviewStatus {
		t.Helper()
		st, err := iss.ReviewToken(ctx, token, auds)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := review(host, "https://host.example")
	if !st.Authenticated {
		t.Fatalf("the mounted token is refused: %s", st.Error)
	}
	if st.User.Username != "system:serviceaccount:default:app" || st.User.UID != sa.UID {
		t.Errorf("user %+v, want the pod's service account", st.User)
	}
	x := st.User.Extra
	if len(x[objects.ExtraPodName]) != 1 || x[objects.ExtraPodName][0] != "tok" || x[objects.ExtraPodUID][0] != pod.UID || x[objects.ExtraNodeName][0] != "n1" {
		t.Errorf("extra %v, want the pod's name and uid and its node's name", x)
	}
	if st := review(host); st.Authenticated {
		t.Errorf("a token for the host's audience passes for the API audiences")
	}
	if st := review(api); !st.Authenticated {
		t.Errorf("the token without an audience is not for the API audiences: %s", st.Error)
	}

	// Past 80% of the short token's 10 minutes: the next resync writes a
	// new one (the relist ticker fires, the pod's resync is due); the day
	// token stays.
	e.advance(baseTimers, 481*time.Second)
	host2 := waitNewToken(t, hostPath, host)
	if readToken(t, apiPath) != api {
		t.Errorf("the day token was replaced after 8 minutes")
	}
	if st := review(host2, "https://host.example"); !st.Authenticated {
		t.Errorf("the refreshed token is refused: %s", st.Error)
	}
	fileIs(t, hostPath, host2, 0o644)

	// A day on, the 48-hour token is replaced too.
	e.advance(baseTimers, 24*time.Hour-480*time.Second)
	api2 := waitNewToken(t, apiPath, api)
	if st := review(api2); !st.Authenticated {
		t.Errorf("the refreshed day token is refused: %s", st.Error)
	}
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "tok"))); n != 1 {
		t.Errorf("%d containers created, want 1: a token refresh restarted the pod", n)
	}
}

// A pod whose service account does not exist fails to mount its token,
// as the kubelet reports it, until the account is made.
func TestServiceAccountTokenWaitsForAccount(t *testing.T) {
	e, _ := tokenEnv(t)
	e.create(tokenPod(e, "early", "late"))
	e.wantEventsAtLeast(`early FailedMount: MountVolume.SetUp failed for volume "tokens" : failed to fetch token: serviceaccounts "late" not found`, 1)
	e.create(&objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Name: "late", Namespace: "default"}})
	e.advance(baseTimers+1, nodeagent.DefaultBackoffBase)
	e.waitPod("early", "running once its account exists", running)
}

// Without an issuer, a token volume fails to mount and says why.
func TestServiceAccountTokenWithoutIssuer(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.create(&objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Name: "app", Namespace: "default"}}, tokenPod(e, "lost", "app"))
	e.wantEventsAtLeast(`lost FailedMount: MountVolume.SetUp failed for volume "tokens" : failed to fetch token: no service account token issuer`, 1)
}
