package nodeagent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// caPEM returns a new self-signed CA certificate named cn, as PEM.
func caPEM(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// sortedAnchors is the PEM the agent writes for certs: each once, sorted
// by their DER bytes.
func sortedAnchors(certs ...string) string {
	slices.SortFunc(certs, func(a, b string) int {
		da, _ := pem.Decode([]byte(a))
		db, _ := pem.Decode([]byte(b))
		return strings.Compare(string(da.Bytes), string(db.Bytes))
	})
	return strings.Join(slices.Compact(certs), "")
}

func trustBundle(name, signer, cert string, labels map[string]string) *objects.ClusterTrustBundle {
	return &objects.ClusterTrustBundle{ObjectMeta: objects.ObjectMeta{Name: name, Labels: labels},
		Spec: objects.ClusterTrustBundleSpec{SignerName: signer, TrustBundle: cert}}
}

// A projected volume's clusterTrustBundle sources get the anchors of a
// bundle by name, or of the bundles of a signer a selector picks, each
// anchor once; an optional one that finds nothing gets an empty file; a
// new bundle of the signer reaches the files of the running pod.
func TestClusterTrustBundleVolume(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, b, c := caPEM(t, "a"), caPEM(t, "b"), caPEM(t, "c")
	const signer = "example.com/signer"
	name := func(s string) *string { return &s }
	yes := true
	p := e.pod("anchors", "app")
	p.Spec.Volumes = []objects.Volume{{Name: "ca", VolumeSource: objects.VolumeSource{Projected: &objects.ProjectedVolumeSource{
		Sources: []objects.VolumeProjection{
			{ClusterTrustBundle: &objects.ClusterTrustBundleProjection{Name: name("plain"), Path: "plain.pem"}},
			{ClusterTrustBundle: &objects.ClusterTrustBundleProjection{SignerName: name(signer),
				LabelSelector: &objects.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}, Path: "prod.pem"}},
			{ClusterTrustBundle: &objects.ClusterTrustBundleProjection{SignerName: name(signer), LabelSelector: &objects.LabelSelector{}, Path: "all.pem"}},
			{ClusterTrustBundle: &objects.ClusterTrustBundleProjection{Name: name("missing"), Optional: &yes, Path: "missing.pem"}},
		},
	}}}}
	p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "ca", MountPath: "/ca"}}
	e.create(
		trustBundle("plain", "", a+b, nil),
		trustBundle("example.com:signer:prod", signer, a, map[string]string{"env": "prod"}),
		trustBundle("example.com:signer:prod-copy", signer, a, map[string]string{"env": "prod"}),
		trustBundle("example.com:signer:dev", signer, b, map[string]string{"env": "dev"}),
		trustBundle("other.com:signer:prod", "other.com/signer", c, map[string]string{"env": "prod"}),
		p)
	e.waitPod("anchors", "running", running)
	dir := mountsOf(t, e.rt, "anchors", "app")["/ca"].HostPath
	if dir == "" {
		t.Fatal("no mount of the projected volume")
	}
	fileIs(t, filepath.Join(dir, "plain.pem"), sortedAnchors(a, b), 0o644)
	fileIs(t, filepath.Join(dir, "prod.pem"), a, 0o644)
	fileIs(t, filepath.Join(dir, "all.pem"), sortedAnchors(a, b), 0o644)
	fileIs(t, filepath.Join(dir, "missing.pem"), "", 0o644)

	e.create(trustBundle("example.com:signer:prod2", signer, c, map[string]string{"env": "prod"}))
	waitFile(t, filepath.Join(dir, "prod.pem"), sortedAnchors(a, c))
	waitFile(t, filepath.Join(dir, "all.pem"), sortedAnchors(a, b, c))
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("ClusterTrustBundle", objects.Key{Name: "example.com:signer:dev"}, store.DeleteOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(dir, "all.pem"), sortedAnchors(a, c))
}

// A bundle that is not optional and not there keeps the pod from
// starting, with the kubelet's FailedMount, until it is made.
func TestClusterTrustBundleVolumeWaits(t *testing.T) {
	e := newEnv(t, envOpt{})
	n := "later"
	p := e.pod("waits", "app")
	p.Spec.Volumes = []objects.Volume{{Name: "ca", VolumeSource: objects.VolumeSource{Projected: &objects.ProjectedVolumeSource{
		Sources: []objects.VolumeProjection{{ClusterTrustBundle: &objects.ClusterTrustBundleProjection{Name: &n, Path: "ca.pem"}}},
	}}}}
	e.create(p)
	e.wantEventsAtLeast(`waits FailedMount: MountVolume.SetUp failed for volume "ca" : while getting ClusterTrustBundle:`, 1)
	e.create(trustBundle("later", "", caPEM(t, "later"), nil))
	e.waitPod("waits", "running once its bundle exists", running)
}
