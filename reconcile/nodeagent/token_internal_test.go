package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
)

// A token is due for a refresh past 80% of its lifetime, or a day after
// it was issued, as the kubelet's token manager has it.
func TestTokenRequiresRefresh(t *testing.T) {
	issued := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		exp     int64
		age     time.Duration
		refresh bool
	}{
		{600, 0, false},
		{600, 480 * time.Second, false},
		{600, 481 * time.Second, true},
		{3600, 48 * time.Minute, false},
		{3600, 48*time.Minute + time.Second, true},
		{7 * 24 * 3600, 24 * time.Hour, false},
		{7 * 24 * 3600, 24*time.Hour + time.Second, true},
	} {
		c := cachedToken{expirationSeconds: tc.exp, status: objects.TokenRequestStatus{
			ExpirationTimestamp: objects.NewTime(issued.Add(time.Duration(tc.exp) * time.Second))}}
		if got := c.requiresRefresh(issued.Add(tc.age)); got != tc.refresh {
			t.Errorf("a token of %ds, %v old: refresh %v, want %v", tc.exp, tc.age, got, tc.refresh)
		}
	}
}

// scriptedIssuer issues numbered tokens valid for what was asked, or
// fails while err is set.
type scriptedIssuer struct {
	now   time.Time
	n     int
	err   error
	specs []objects.TokenRequestSpec
}

func (s *scriptedIssuer) CreateToken(_ context.Context, ns, sa string, spec objects.TokenRequestSpec) (objects.TokenRequestStatus, error) {
	s.specs = append(s.specs, spec)
	if s.err != nil {
		return objects.TokenRequestStatus{}, s.err
	}
	s.n++
	return objects.TokenRequestStatus{Token: fmt.Sprintf("%s/%s/%d", ns, sa, s.n),
		ExpirationTimestamp: objects.NewTime(s.now.Add(time.Duration(*spec.ExpirationSeconds) * time.Second))}, nil
}

// A token is reused until due, asked for bound to the pod; a refresh that
// fails keeps the old token until it expires; expired tokens are
// forgotten.
func TestTokenManager(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	iss := &scriptedIssuer{now: now}
	m := &tokenManager{issuer: iss, cache: map[tokenKey]*cachedToken{}}
	k := tokenKey{namespace: "default", serviceAccount: "app", expirationSeconds: 600, podName: "web", podUID: "uid-1"}
	get := func(at time.Duration) (string, error) { return m.token(ctx, now.Add(at), k) }

	if tok, err := get(0); err != nil || tok != "default/app/1" {
		t.Fatalf("first token %q, %v", tok, err)
	}
	want := objects.TokenRequestSpec{ExpirationSeconds: iss.specs[0].ExpirationSeconds,
		BoundObjectRef: &objects.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: "web", UID: "uid-1"}}
	if got := iss.specs[0]; got.Audiences != nil || *got.ExpirationSeconds != 600 || *got.BoundObjectRef != *want.BoundObjectRef {
		t.Errorf("asked for %+v (bound to %+v), want no audiences, 600s, bound to the pod", got, got.BoundObjectRef)
	}
	if tok, _ := get(8 * time.Minute); tok != "default/app/1" || len(iss.specs) != 1 {
		t.Errorf("at 8 minutes: %q after %d requests, want the first token reused", tok, len(iss.specs))
	}

	iss.err = errors.New("store down")
	if tok, err := get(9 * time.Minute); err != nil || tok != "default/app/1" {
		t.Errorf("refresh failing before expiry: %q, %v; want the cached token", tok, err)
	}
	if _, err := get(10*time.Minute + time.Second); err == nil || err.Error() != "failed to fetch token: store down" {
		t.Errorf("refresh failing after expiry: %v", err)
	}
	iss.err = nil
	iss.now = now.Add(11 * time.Minute)
	if tok, err := get(11 * time.Minute); err != nil || tok != "default/app/2" {
		t.Errorf("after the issuer came back: %q, %v", tok, err)
	}

	// Another audience is another token; expired ones are swept.
	k2 := k
	k2.audience = "vault"
	if tok, _ := m.token(ctx, now.Add(11*time.Minute), k2); tok != "default/app/3" || *iss.specs[len(iss.specs)-1].ExpirationSeconds != 600 || iss.specs[len(iss.specs)-1].Audiences[0] != "vault" {
		t.Errorf("token for vault: %q, asked %+v", tok, iss.specs[len(iss.specs)-1])
	}
	m.token(ctx, now.Add(time.Hour), tokenKey{namespace: "other", serviceAccount: "x", expirationSeconds: 600, podUID: "uid-2"})
	if len(m.cache) != 1 {
		t.Errorf("%d tokens cached an hour on, want only the one just issued", len(m.cache))
	}
}

// The tokens of pods gone from the node are dropped at once, the others
// kept; an agent without an issuer has nothing to drop.
func TestTokenManagerForgetsGonePods(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &tokenManager{issuer: &scriptedIssuer{now: now}, cache: map[tokenKey]*cachedToken{}}
	for _, k := range []tokenKey{
		{namespace: "default", serviceAccount: "app", expirationSeconds: 600, podName: "a", podUID: "uid-a"},
		{namespace: "default", serviceAccount: "app", audience: "vault", expirationSeconds: 600, podName: "a", podUID: "uid-a"},
		{namespace: "default", serviceAccount: "app", expirationSeconds: 600, podName: "b", podUID: "uid-b"},
	} {
		if _, err := m.token(ctx, now, k); err != nil {
			t.Fatal(err)
		}
	}
	m.forgetPods([]string{"uid-a", "uid-gone"})
	if len(m.cache) != 1 {
		t.Fatalf("%d tokens cached, want only pod b's", len(m.cache))
	}
	for k := range m.cache {
		if k.podUID != "uid-b" {
			t.Errorf("kept %+v, want only pod b's", k)
		}
	}
	var none *tokenManager
	none.forgetPods([]string{"uid-b"})
}
