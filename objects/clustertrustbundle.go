package objects

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// ClusterTrustBundle is a set of X.509 trust anchors, CA certificates, for
// pods to read through a projected volume (certificates.k8s.io/v1,
// cluster-scoped). A bundle with a signerName holds the anchors of that
// signer, and its name starts with the signer name, with ':' for '/',
// followed by ':'.
type ClusterTrustBundle struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec ClusterTrustBundleSpec `json:"spec,omitempty"`
}

// DeepCopyObject implements Object.
func (b *ClusterTrustBundle) DeepCopyObject() Object { return b.DeepCopy() }

// ClusterTrustBundleSpec is the signer and the anchors.
type ClusterTrustBundleSpec struct {
	// SignerName, when set, is the signer whose anchors these are
	// ("example.com/my-signer"); immutable.
	SignerName string `json:"signerName,omitempty"`
	// TrustBundle is one or more PEM CERTIFICATE blocks of CA
	// certificates, without headers.
	TrustBundle string `json:"trustBundle"`
}

// ClusterTrustBundleProjection writes the anchors of a ClusterTrustBundle
// named Name, or of the bundles of SignerName that LabelSelector selects
// (each anchor once), into a projected volume's file at Path.
type ClusterTrustBundleProjection struct {
	Name          *string        `json:"name,omitempty"`
	SignerName    *string        `json:"signerName,omitempty"`
	LabelSelector *LabelSelector `json:"labelSelector,omitempty"`
	// Optional: a missing bundle (or none selected) writes an empty file,
	// where otherwise the pod waits for one.
	Optional *bool  `json:"optional,omitempty"`
	Path     string `json:"path"`
	// User, when set, owns the file, mode 0600.
	User *int64 `json:"user,omitempty"`
}

// MaxTrustBundleSize is the most bytes a ClusterTrustBundle's trustBundle
// may have, as in Kubernetes.
const MaxTrustBundleSize = 1 << 20

// maxSignerNameLength fits a domain, '/', and a path that can hold a DNS
// label, '.' and a DNS subdomain, as Kubernetes' ValidateSignerName allows.
const maxSignerNameLength = dns1123SubdomainMaxLength + 1 + dns1123LabelMaxLength + 1 + dns1123SubdomainMaxLength

// ValidateName implements NameValidator, as Kubernetes'
// ValidateClusterTrustBundleName: a bundle of a signer is named with the
// signer name, ':' for '/', then ':' and a DNS subdomain
// ("example.com:my-signer:foo"); a bundle without signer has a DNS
// subdomain name, without ':'.
func (b *ClusterTrustBundle) ValidateName(name string) []string {
	return validateClusterTrustBundleName(name, b.Spec.SignerName)
}

// Validate implements Validator, as Kubernetes' ValidateClusterTrustBundle
// but for the anchors: ValidateCreate checks them, and ValidateUpdate when
// they change. Kubernetes does not parse a stored bundle's unchanged PEM
// again, so that a change in Go's PEM or X.509 parsing cannot make the
// bundle impossible to update (or to delete, if it has finalizers).
func (b *ClusterTrustBundle) Validate() ErrorList {
	if b.Spec.SignerName == "" {
		return nil
	}
	return validateSignerName(b.Spec.SignerName, NewPath("spec", "signerName"))
}

// ValidateCreate implements CreateValidator: the anchors of a new bundle
// (see Validate).
func (b *ClusterTrustBundle) ValidateCreate() ErrorList {
	return validateTrustBundle(b.Spec.TrustBundle, NewPath("spec", "trustBundle"))
}

// ValidateUpdate implements UpdateValidator, as Kubernetes'
// ValidateClusterTrustBundleUpdate: the anchors when they change, and the
// signer name, which cannot change.
func (b *ClusterTrustBundle) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*ClusterTrustBundle)
	if !ok {
		return ErrorList{Invalid(NewPath("kind"), fmt.Sprintf("%T", old), "cannot validate an update of a ClusterTrustBundle against it")}
	}
	var errs ErrorList
	if b.Spec.TrustBundle != o.Spec.TrustBundle {
		errs = validateTrustBundle(b.Spec.TrustBundle, NewPath("spec", "trustBundle"))
	}
	if b.Spec.SignerName != o.Spec.SignerName {
		errs = append(errs, Invalid(NewPath("spec", "signerName"), b.Spec.SignerName, "field is immutable"))
	}
	return errs
}

// validateClusterTrustBundleName returns why name is not the name of a
// ClusterTrustBundle of signerName ("" for none), or nothing.
func validateClusterTrustBundleName(name, signerName string) []string {
	if signerName == "" {
		if strings.Contains(name, ":") {
			return []string{`ClusterTrustBundle without signer name must not have ":" in its name`}
		}
		return IsDNS1123Subdomain(name)
	}
	prefix := strings.ReplaceAll(signerName, "/", ":") + ":"
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return []string{fmt.Sprintf("ClusterTrustBundle for signerName %s must be named with prefix %s", signerName, prefix)}
	}
	return IsDNS1123Subdomain(rest)
}

// clusterTrustBundleSigner returns the signer name a ClusterTrustBundle
// name implies: what comes before its last ':', with '/' for ':'; or ""
// for a name without ':'.
func clusterTrustBundleSigner(name string) string {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return ""
	}
	return strings.ReplaceAll(name[:i], ":", "/")
}

// validateSignerName checks a signer name as Kubernetes'
// ValidateSignerName: a domain of at least two DNS labels, '/', and a path
// of DNS subdomains separated by '.' ("example.com/my-signer").
func validateSignerName(name string, p *Path) ErrorList {
	if name == "" {
		return ErrorList{Required(p, "")}
	}
	domain, path, ok := strings.Cut(name, "/")
	if !ok || strings.Contains(path, "/") {
		return ErrorList{Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs ErrorList
	if len(domain) > dns1123SubdomainMaxLength {
		errs = append(errs, TooLong(p, "", dns1123SubdomainMaxLength))
	}
	labels := strings.Split(domain, ".")
	errs = append(errs, validateSignerNameParts(domain, labels, IsDNS1123Label, p)...)
	if len(labels) < 2 {
		errs = append(errs, Invalid(p, domain, "should be a domain with at least two segments separated by dots"))
	}
	errs = append(errs, validateSignerNameParts(path, strings.Split(path, "."), IsDNS1123Subdomain, p)...)
	if len(name) > maxSignerNameLength {
		errs = append(errs, TooLong(p, "", maxSignerNameLength))
	}
	return errs
}

// validateSignerNameParts reports the problems of the first of parts, the
// '.'-separated parts of a signer name's domain or path, that rule refuses;
// those of later parts would read the same.
func validateSignerNameParts(segment string, parts []string, rule func(string) []string, p *Path) ErrorList {
	var errs ErrorList
	for _, part := range parts {
		msgs := rule(part)
		for _, m := range msgs {
			errs = append(errs, Invalid(p, segment, fmt.Sprintf("validating label %q: %s", part, m)))
		}
		if len(msgs) > 0 {
			break
		}
	}
	return errs
}

// validateTrustBundle checks the anchors of a ClusterTrustBundle as
// Kubernetes' validateTrustBundle: at most MaxTrustBundleSize bytes of PEM
// CERTIFICATE blocks without headers, each an X.509 CA certificate, at
// least one and none twice. Text around the blocks is ignored, as
// Kubernetes ignores it.
func validateTrustBundle(bundle string, p *Path) ErrorList {
	if len(bundle) > MaxTrustBundleSize {
		return ErrorList{TooLong(p, "", MaxTrustBundleSize)}
	}
	// A bundle is too big to show in an error.
	const omitted = "<value omitted>"
	var errs ErrorList
	indexes := map[string][]int{} // by DER
	var ders []string             // in the order first seen
	rest := []byte(bundle)
	for i := 0; ; i++ {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if problem := trustAnchorProblem(block); problem != "" {
			errs = append(errs, Invalid(p, omitted, fmt.Sprintf("entry %d %s", i, problem)))
			continue
		}
		der := string(block.Bytes)
		if _, ok := indexes[der]; !ok {
			ders = append(ders, der)
		}
		indexes[der] = append(indexes[der], i)
	}
	// A bad block would make the count and the duplicates misleading.
	if len(errs) > 0 {
		return errs
	}
	if len(ders) == 0 {
		return ErrorList{Invalid(p, omitted, "at least one trust anchor must be provided")}
	}
	for _, der := range ders {
		if is := indexes[der]; len(is) > 1 {
			errs = append(errs, Invalid(p, omitted, fmt.Sprintf("duplicate trust anchor (indices %v)", is)))
		}
	}
	return errs
}

// trustAnchorProblem returns why block is not a trust anchor, worded to
// follow "entry N", or "" when it is one.
func trustAnchorProblem(block *pem.Block) string {
	if block.Type != "CERTIFICATE" {
		return "has bad block type: " + block.Type
	}
	if len(block.Headers) != 0 {
		return "has PEM block headers"
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	switch {
	case err != nil:
		return "does not parse as X.509"
	case !cert.IsCA:
		return "does not have the CA bit set"
	case !cert.BasicConstraintsValid:
		// Go sets IsCA only from valid basic constraints; kept as
		// Kubernetes checks it.
		return "has invalid basic constraints"
	}
	return ""
}
