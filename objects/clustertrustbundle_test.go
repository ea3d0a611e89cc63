package objects

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCertPEM returns a new self-signed certificate for cn, a CA when isCA,
// as a PEM CERTIFICATE block.
func testCertPEM(t *testing.T, cn string, isCA bool) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  isCA,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// invalidErrors returns the problems of a rejection by the Scheme, or
// none for nil.
func invalidErrors(t *testing.T, err error) ErrorList {
	t.Helper()
	if err == nil {
		return nil
	}
	var ie *InvalidError
	require.True(t, errors.As(err, &ie), "%v", err)
	return ie.Errors
}

func TestClusterTrustBundleDecode(t *testing.T) {
	ca := testCertPEM(t, "my-signer CA", true)
	obj := decodeManifest(t, `apiVersion: certificates.k8s.io/v1
kind: ClusterTrustBundle
metadata:
  name: example.com:my-signer:foo
  labels:
    example.com/tier: prod
spec:
  signerName: example.com/my-signer
  trustBundle: |
    `+strings.ReplaceAll(strings.TrimSpace(ca), "\n", "\n    ")+`
`)
	b, ok := obj.(*ClusterTrustBundle)
	require.True(t, ok, "%T", obj)
	assert.Equal(t, "example.com/my-signer", b.Spec.SignerName)
	assert.Equal(t, ca, b.Spec.TrustBundle)
	require.NoError(t, NewScheme().Validate(b), "a signer's bundle may have ':' in its name")

	b = &ClusterTrustBundle{ObjectMeta: ObjectMeta{Name: "ca-bundle"},
		Spec: ClusterTrustBundleSpec{TrustBundle: ca + testCertPEM(t, "other CA", true)}}
	require.NoError(t, NewScheme().Validate(b))
	b = &ClusterTrustBundle{ObjectMeta: ObjectMeta{GenerateName: "example.com:my-signer:foo-"},
		Spec: ClusterTrustBundleSpec{SignerName: "example.com/my-signer", TrustBundle: ca}}
	require.NoError(t, NewScheme().Validate(b))
}

func TestClusterTrustBundleValidate(t *testing.T) {
	ca := testCertPEM(t, "CA", true)
	leaf := testCertPEM(t, "leaf", false)
	block := func(typ string, headers map[string]string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der}))
	}
	caDER, _ := pem.Decode([]byte(ca))
	// withSigner names the bundle after signer, so that only the signer
	// name's own problems show.
	withSigner := func(signer string) func(*ClusterTrustBundle) {
		return func(b *ClusterTrustBundle) {
			b.Spec.SignerName = signer
			b.Name = strings.ReplaceAll(signer, "/", ":") + ":foo"
		}
	}
	const bundle = "spec.trustBundle: Invalid value: \"<value omitted>\": "
	const signer = "spec.signerName: "
	cases := []struct {
		name   string
		mutate func(b *ClusterTrustBundle)
		want   []string
	}{
		{"valid", func(*ClusterTrustBundle) {}, nil},
		{"text around the blocks", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = "# my CA\n" + ca + "trailing\n" }, nil},
		{"wrong block type", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = ca + block("PRIVATE KEY", nil, caDER.Bytes) },
			[]string{bundle + "entry 1 has bad block type: PRIVATE KEY"}},
		{"headers", func(b *ClusterTrustBundle) {
			b.Spec.TrustBundle = block("CERTIFICATE", map[string]string{"Comment": "mine"}, caDER.Bytes)
		}, []string{bundle + "entry 0 has PEM block headers"}},
		{"not X.509", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = block("CERTIFICATE", nil, []byte("garbage")) },
			[]string{bundle + "entry 0 does not parse as X.509"}},
		{"not a CA", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = ca + leaf },
			[]string{bundle + "entry 1 does not have the CA bit set"}},
		{"bad block hides duplicates", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = ca + ca + leaf },
			[]string{bundle + "entry 2 does not have the CA bit set"}},
		{"duplicate", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = ca + testCertPEM(t, "CA 2", true) + ca },
			[]string{bundle + "duplicate trust anchor (indices [0 2])"}},
		{"empty", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = "" },
			[]string{bundle + "at least one trust anchor must be provided"}},
		{"no PEM", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = "garbage" },
			[]string{bundle + "at least one trust anchor must be provided"}},
		{"largest", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = strings.Repeat("x", MaxTrustBundleSize) },
			[]string{bundle + "at least one trust anchor must be provided"}},
		{"too big", func(b *ClusterTrustBundle) { b.Spec.TrustBundle = ca + strings.Repeat("x", MaxTrustBundleSize) },
			[]string{"spec.trustBundle: Too long: must have at most 1048576 bytes"}},

		{"signer without path", withSigner("example.com"),
			[]string{signer + `Invalid value: "example.com": must be a fully qualified domain and path of the form 'example.com/signer-name'`}},
		{"signer with two paths", withSigner("example.com/a/b"),
			[]string{signer + `Invalid value: "example.com/a/b": must be a fully qualified domain and path*`}},
		{"signer domain of one label", withSigner("example/my-signer"),
			[]string{signer + `Invalid value: "example": should be a domain with at least two segments separated by dots`}},
		{"signer domain label", withSigner("Example.Com/my-signer"), // the first bad label only
			[]string{signer + `Invalid value: "Example.Com": validating label "Example": a lowercase RFC 1123 label*`}},
		{"signer domain too long", withSigner(strings.Repeat("a.", 127) + "com/my-signer"),
			[]string{signer + "Too long: must have at most 253 bytes"}},
		{"signer path", withSigner("example.com/my.Signer.X"),
			[]string{signer + `Invalid value: "my.Signer.X": validating label "Signer": a lowercase RFC 1123 subdomain*`}},
		{"signer too long", withSigner("example.com/" + strings.Repeat("a.", 280) + "a"),
			[]string{signer + "Too long: must have at most 571 bytes"}},

		{"name not prefixed by signer", func(b *ClusterTrustBundle) { b.Name = "example.com:other:foo" }, []string{
			`metadata.name: Invalid value: "example.com:other:foo": ClusterTrustBundle for signerName example.com/my-signer must be named with prefix example.com:my-signer:`,
		}},
		{"name after prefix", func(b *ClusterTrustBundle) { b.Name = "example.com:my-signer:Foo" },
			[]string{`metadata.name: Invalid value: "example.com:my-signer:Foo": a lowercase RFC 1123 subdomain*`}},
		{"generated name", func(b *ClusterTrustBundle) { b.Name, b.GenerateName = "", "example.com:other:" },
			[]string{`metadata.generateName: Invalid value: "example.com:other:": ClusterTrustBundle for signerName*`}},
		{"colon without signer", func(b *ClusterTrustBundle) { b.Spec.SignerName = "" }, []string{
			`metadata.name: Invalid value: "example.com:my-signer:foo": ClusterTrustBundle without signer name must not have ":" in its name`,
		}},
		{"name without signer", func(b *ClusterTrustBundle) { b.Spec.SignerName, b.Name = "", "CA" },
			[]string{`metadata.name: Invalid value: "CA": a lowercase RFC 1123 subdomain*`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &ClusterTrustBundle{ObjectMeta: ObjectMeta{Name: "example.com:my-signer:foo"},
				Spec: ClusterTrustBundleSpec{SignerName: "example.com/my-signer", TrustBundle: ca}}
			tc.mutate(b)
			assertFieldErrors(t, tc.want, invalidErrors(t, NewScheme().Validate(b)))
		})
	}
}

func TestClusterTrustBundleUpdate(t *testing.T) {
	ca := testCertPEM(t, "CA", true)
	stored := &ClusterTrustBundle{ObjectMeta: ObjectMeta{Name: "example.com:my-signer:foo", UID: "u1"},
		Spec: ClusterTrustBundleSpec{SignerName: "example.com/my-signer", TrustBundle: ca}}
	update := func(mutate func(b *ClusterTrustBundle)) ErrorList {
		b := stored.DeepCopy()
		mutate(b)
		return invalidErrors(t, NewScheme().ValidateUpdate(b, stored))
	}

	assert.Empty(t, update(func(b *ClusterTrustBundle) { b.Spec.TrustBundle = ca + testCertPEM(t, "CA 2", true) }))
	assertFieldErrors(t, []string{
		`metadata.name: Invalid value: "example.com:my-signer:foo": ClusterTrustBundle for signerName example.com/other must be named with prefix example.com:other:`,
		`spec.signerName: Invalid value: "example.com/other": field is immutable`,
	}, update(func(b *ClusterTrustBundle) { b.Spec.SignerName = "example.com/other" }))
	assertFieldErrors(t, []string{`spec.trustBundle: Invalid value: "<value omitted>": entry 0 does not have the CA bit set`},
		update(func(b *ClusterTrustBundle) { b.Spec.TrustBundle = testCertPEM(t, "leaf", false) }))

	// A stored bundle that no longer parses can still be updated, its
	// labels or finalizers changed, as long as its anchors are left alone.
	stored.Spec.TrustBundle = "garbage"
	assert.Empty(t, update(func(b *ClusterTrustBundle) { b.Labels = map[string]string{"tier": "prod"} }))
	assertFieldErrors(t, []string{`spec.trustBundle: Invalid value: "<value omitted>": at least one trust anchor must be provided`},
		update(func(b *ClusterTrustBundle) { b.Spec.TrustBundle = "more garbage" }))

	assertFieldErrors(t, []string{`kind: Invalid value: "*objects.Pod": cannot validate an update of a ClusterTrustBundle against it`},
		stored.ValidateUpdate(&Pod{}))
}
