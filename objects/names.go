package objects

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

const (
	dns1123LabelMaxLength     = 63
	dns1123SubdomainMaxLength = 253
	qualifiedNameMaxLength    = 63
	labelValueMaxLength       = 63
)

var (
	dns1123LabelRe     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123SubdomainRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dns1035LabelRe     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	qualifiedNameRe    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	cIdentifierRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envVarNameRe       = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	configKeyRe        = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// IsDNS1123Label returns why value is not a DNS-1123 label (RFC 1123), or
// nothing when it is one.
func IsDNS1123Label(value string) []string {
	var errs []string
	if len(value) > dns1123LabelMaxLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", dns1123LabelMaxLength))
	}
	if !dns1123LabelRe.MatchString(value) {
		errs = append(errs, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
	}
	return errs
}

// IsDNS1123Subdomain returns why value is not a DNS-1123 subdomain, or
// nothing when it is one.
func IsDNS1123Subdomain(value string) []string {
	var errs []string
	if len(value) > dns1123SubdomainMaxLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", dns1123SubdomainMaxLength))
	}
	if !dns1123SubdomainRe.MatchString(value) {
		errs = append(errs, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
	}
	return errs
}

// IsDNS1035Label returns why value is not a DNS-1035 label (a letter first),
// as Service names must be, or nothing when it is one.
func IsDNS1035Label(value string) []string {
	var errs []string
	if len(value) > dns1123LabelMaxLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", dns1123LabelMaxLength))
	}
	if !dns1035LabelRe.MatchString(value) {
		errs = append(errs, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
	}
	return errs
}

// IsQualifiedName returns why value is not a qualified name such as a label
// key ("app", "example.com/tier"), or nothing when it is one.
func IsQualifiedName(value string) []string {
	var errs []string
	parts := strings.Split(value, "/")
	var name string
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		var prefix string
		prefix, name = parts[0], parts[1]
		if len(prefix) == 0 {
			errs = append(errs, "prefix part must be non-empty")
		} else if msgs := IsDNS1123Subdomain(prefix); len(msgs) != 0 {
			for _, m := range msgs {
				errs = append(errs, "prefix part "+m)
			}
		}
	default:
		return append(errs, "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
	}
	if len(name) == 0 {
		errs = append(errs, "name part must be non-empty")
	} else if len(name) > qualifiedNameMaxLength {
		errs = append(errs, fmt.Sprintf("name part must be no more than %d characters", qualifiedNameMaxLength))
	}
	if !qualifiedNameRe.MatchString(name) {
		errs = append(errs, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
	}
	return errs
}

// IsValidLabelValue returns why value is not a valid label value, or nothing.
func IsValidLabelValue(value string) []string {
	var errs []string
	if len(value) > labelValueMaxLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", labelValueMaxLength))
	}
	if value != "" && !qualifiedNameRe.MatchString(value) {
		errs = append(errs, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
	}
	return errs
}

// IsCIdentifier returns why value is not a C identifier, or nothing.
func IsCIdentifier(value string) []string {
	if !cIdentifierRe.MatchString(value) {
		return []string{"a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')"}
	}
	return nil
}

// IsEnvVarName returns why value is not a valid environment variable name.
func IsEnvVarName(value string) []string {
	if !envVarNameRe.MatchString(value) {
		return []string{"a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"}
	}
	return nil
}

// IsRelaxedEnvVarName returns why value is not an environment variable
// name by Kubernetes' relaxed rule (printable ASCII but '='), which an env
// file's keys follow.
func IsRelaxedEnvVarName(value string) []string {
	var errs []string
	if value == "" {
		errs = append(errs, "environment variable name must be non-empty")
	}
	for _, r := range value {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == '=' {
			errs = append(errs, "a valid environment variable name must consist only of printable ASCII characters other than '='")
			break
		}
	}
	return errs
}

// IsConfigMapKey returns why value is not a valid ConfigMap or Secret key.
func IsConfigMapKey(value string) []string {
	var errs []string
	if len(value) > dns1123SubdomainMaxLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", dns1123SubdomainMaxLength))
	}
	if !configKeyRe.MatchString(value) {
		errs = append(errs, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
	}
	if value == "." || value == ".." || strings.HasPrefix(value, "..") {
		errs = append(errs, "must not be '.' or '..' or start with '..'")
	}
	return errs
}

// appendMsgs turns the messages of an Is* check into field errors.
func appendMsgs(errs ErrorList, p *Path, value string, msgs []string) ErrorList {
	for _, m := range msgs {
		errs = append(errs, Invalid(p, value, m))
	}
	return errs
}

// ValidateLabels checks label keys and values.
func ValidateLabels(labels map[string]string, p *Path) ErrorList {
	var errs ErrorList
	for k, v := range labels {
		errs = appendMsgs(errs, p, k, IsQualifiedName(k))
		errs = appendMsgs(errs, p, v, IsValidLabelValue(v))
	}
	return errs
}

const totalAnnotationSizeLimit = 256 * 1024

// ValidateAnnotations checks annotation keys and the total size.
func ValidateAnnotations(annotations map[string]string, p *Path) ErrorList {
	var errs ErrorList
	size := 0
	for k, v := range annotations {
		errs = appendMsgs(errs, p, k, IsQualifiedName(strings.ToLower(k)))
		size += len(k) + len(v)
	}
	if size > totalAnnotationSizeLimit {
		errs = append(errs, TooLong(p, "", totalAnnotationSizeLimit))
	}
	return errs
}

// ValidateObjectMeta checks the metadata every kind shares: a name (or
// generateName) that is a DNS-1123 subdomain, the namespace rule of the kind,
// labels, annotations, finalizers and owner references.
func ValidateObjectMeta(m *ObjectMeta, namespaced bool, p *Path) ErrorList {
	return validateObjectMetaNamed(m, namespaced, IsDNS1123Subdomain, p)
}

// validateObjectMetaNamed is ValidateObjectMeta with the kind's name rule
// (see NameValidator).
func validateObjectMetaNamed(m *ObjectMeta, namespaced bool, nameRule func(string) []string, p *Path) ErrorList {
	var errs ErrorList
	switch {
	case m.Name == "" && m.GenerateName == "":
		errs = append(errs, Required(p.Child("name"), "name or generateName is required"))
	case m.Name != "":
		errs = appendMsgs(errs, p.Child("name"), m.Name, nameRule(m.Name))
	default:
		// generateName gets a random suffix; check it as a name would be checked.
		errs = appendMsgs(errs, p.Child("generateName"), m.GenerateName,
			nameRule(strings.TrimRight(m.GenerateName, "-")+"-x"))
	}
	if namespaced {
		if m.Namespace == "" {
			errs = append(errs, Required(p.Child("namespace"), ""))
		} else {
			errs = appendMsgs(errs, p.Child("namespace"), m.Namespace, IsDNS1123Label(m.Namespace))
		}
	} else if m.Namespace != "" {
		errs = append(errs, Forbidden(p.Child("namespace"), "not allowed on this type"))
	}
	if m.Generation < 0 {
		errs = append(errs, Invalid(p.Child("generation"), m.Generation, "must be greater than or equal to 0"))
	}
	errs = append(errs, ValidateLabels(m.Labels, p.Child("labels"))...)
	errs = append(errs, ValidateAnnotations(m.Annotations, p.Child("annotations"))...)
	for i, f := range m.Finalizers {
		errs = appendMsgs(errs, p.Child("finalizers").Index(i), f, IsQualifiedName(f))
	}
	controllers := 0
	for i, r := range m.OwnerReferences {
		rp := p.Child("ownerReferences").Index(i)
		if r.APIVersion == "" {
			errs = append(errs, Required(rp.Child("apiVersion"), ""))
		}
		if r.Kind == "" {
			errs = append(errs, Required(rp.Child("kind"), ""))
		}
		if r.Name == "" {
			errs = append(errs, Required(rp.Child("name"), ""))
		}
		if r.UID == "" {
			errs = append(errs, Required(rp.Child("uid"), ""))
		}
		if r.Controller != nil && *r.Controller {
			controllers++
		}
	}
	if controllers > 1 {
		errs = append(errs, Invalid(p.Child("ownerReferences"), controllers, "Only one reference can have Controller set to true"))
	}
	return errs
}

// generatedSuffix stands for the five random letters or digits the store
// appends to generateName; maxGenerateNamePrefix is how much of the prefix
// it keeps, so that the name fits in 63 characters (see the store's
// GenerateName).
const (
	generatedSuffix       = "xxxxx"
	maxGenerateNamePrefix = dns1123LabelMaxLength - len(generatedSuffix)
)

// ruleName returns the name a kind's own name rules check, with the field
// and value an error shows: the name; or, for a name the store is to
// generate from generateName, one of the shape it generates (the prefix,
// cut as the store cuts it, and five random letters or digits), since
// Kubernetes checks a generated name by the kind's rules too.
func ruleName(m *ObjectMeta) (name string, p *Path, value string) {
	if m.Name != "" || m.GenerateName == "" {
		return m.Name, NewPath("metadata", "name"), m.Name
	}
	return m.GenerateName[:min(len(m.GenerateName), maxGenerateNamePrefix)] + generatedSuffix,
		NewPath("metadata", "generateName"), m.GenerateName
}

// validateNameRule checks the name (see ruleName) by a kind's rule
// stricter than the DNS subdomain every name must be. A name that is not
// even a subdomain is reported by ValidateObjectMeta.
func validateNameRule(m *ObjectMeta, rule func(string) []string) ErrorList {
	name, p, value := ruleName(m)
	if name == "" || len(IsDNS1123Subdomain(name)) > 0 {
		return nil
	}
	return appendMsgs(nil, p, value, rule(name))
}

func validateObjectMetaUpdate(m, old *ObjectMeta, p *Path) ErrorList {
	var errs ErrorList
	if m.Name != old.Name {
		errs = append(errs, Invalid(p.Child("name"), m.Name, "field is immutable"))
	}
	if m.Namespace != old.Namespace {
		errs = append(errs, Invalid(p.Child("namespace"), m.Namespace, "field is immutable"))
	}
	if m.UID != "" && m.UID != old.UID {
		errs = append(errs, Invalid(p.Child("uid"), m.UID, "field is immutable"))
	}
	return errs
}
