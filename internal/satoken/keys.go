package satoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Where a generated signing key is kept: a Secret of kube-system, its
// PKCS #8 private key PEM-encoded under KeySecretKey.
const (
	KeySecretNamespace = "kube-system"
	KeySecretName      = "podkit-service-account-signing-key"
	KeySecretKey       = "key.pem"
)

// GeneratedKeyBits is the size of a generated RSA signing key: RS256 is
// what every verifier of OpenID Connect tokens accepts, as kubeadm's
// service account key is RSA.
const GeneratedKeyBits = 2048

// keySet signs with one key and verifies with it and any others.
type keySet struct {
	signer jose.Signer
	alg    jose.SignatureAlgorithm
	// public holds the verification keys, the signing key's first, each
	// with its key ID and algorithm.
	public []jose.JSONWebKey
}

// CheckSigner reports whether s can sign tokens: an RSA key of at least
// 2048 bits, or an ECDSA key on P-256, P-384 or P-521.
func CheckSigner(s crypto.Signer) error {
	_, err := algorithm(s.Public())
	return err
}

// algorithm returns the JWS algorithm Kubernetes signs with for a key:
// RS256 for RSA, ES256, ES384 or ES512 for ECDSA by curve.
func algorithm(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("an RSA key of %d bits is too small to sign service account tokens: use 2048 or more", k.N.BitLen())
		}
		return jose.RS256, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
		return "", fmt.Errorf("an ECDSA key on curve %s cannot sign service account tokens: use P-256, P-384 or P-521", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("a %T cannot sign service account tokens: use an RSA or ECDSA key", pub)
}

// keyID is the key ID Kubernetes gives a public key: the unpadded
// base64url SHA-256 of its PKIX DER form.
func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// kidSigner is an opaque signer whose public key carries its key ID, so
// that go-jose writes it as the token's "kid" header.
type kidSigner struct {
	jose.OpaqueSigner
	pub *jose.JSONWebKey
}

func (s kidSigner) Public() *jose.JSONWebKey { return s.pub }

func newKeySet(s crypto.Signer, verify []crypto.PublicKey) (*keySet, error) {
	alg, err := algorithm(s.Public())
	if err != nil {
		return nil, err
	}
	pub, err := publicJWK(s.Public())
	if err != nil {
		return nil, err
	}
	// Any crypto.Signer, a key in memory or one in a hardware module.
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: kidSigner{OpaqueSigner: cryptosigner.Opaque(s), pub: &pub}}, nil)
	if err != nil {
		return nil, err
	}
	ks := &keySet{signer: sig, alg: alg, public: []jose.JSONWebKey{pub}}
	for _, k := range verify {
		jwk, err := publicJWK(k)
		if err != nil {
			return nil, fmt.Errorf("verification key: %w", err)
		}
		if jwk.KeyID != pub.KeyID {
			ks.public = append(ks.public, jwk)
		}
	}
	return ks, nil
}

func publicJWK(pub crypto.PublicKey) (jose.JSONWebKey, error) {
	alg, err := algorithm(pub)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	kid, err := keyID(pub)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	return jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(alg), Use: "sig"}, nil
}

// algorithms lists the algorithms of the verification keys, those a
// token may be signed with.
func (ks *keySet) algorithms() []jose.SignatureAlgorithm {
	var out []jose.SignatureAlgorithm
	for _, k := range ks.public {
		a := jose.SignatureAlgorithm(k.Algorithm)
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// storedSigner reads the signing key kept in the store, generating and
// storing one first if there is none. An orchestrator started again on a
// durable store finds it there, so that the tokens it issued stay valid.
func storedSigner(ctx context.Context, s store.Store) (crypto.Signer, error) {
	key := objects.Key{Namespace: KeySecretNamespace, Name: KeySecretName}
	read := func() (*objects.Secret, error) {
		var sec *objects.Secret
		err := s.View(ctx, func(tx store.ReadTx) error {
			o, err := tx.Get("Secret", key)
			if err == nil {
				sec = o.(*objects.Secret)
			}
			return err
		})
		return sec, err
	}
	sec, err := read()
	if errors.Is(err, store.ErrNotFound) {
		sec, err = createKeySecret(ctx, s)
		if errors.Is(err, store.ErrAlreadyExists) {
			sec, err = read() // another orchestrator on the store made it first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("service account signing key: %w", err)
	}
	signer, err := parseKey(sec.Data[KeySecretKey])
	if err != nil {
		return nil, fmt.Errorf("service account signing key in Secret %s/%s: %w", KeySecretNamespace, KeySecretName, err)
	}
	return signer, nil
}

func createKeySecret(ctx context.Context, s store.Store) (*objects.Secret, error) {
	k, err := rsa.GenerateKey(rand.Reader, GeneratedKeyBits)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	immutable := true // rotated by deleting it, never by an edit
	sec := &objects.Secret{
		ObjectMeta: objects.ObjectMeta{Namespace: KeySecretNamespace, Name: KeySecretName},
		Type:       objects.SecretTypeOpaque,
		Immutable:  &immutable,
		Data:       map[string][]byte{KeySecretKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
	}
	s.Scheme().Default(sec)
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Create(sec) })
	return sec, err
}

func parseKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", k)
	}
	return s, CheckSigner(s)
}
