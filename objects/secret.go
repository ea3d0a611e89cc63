package objects

import (
	"bytes"
	"fmt"
	"maps"
)

// Secret holds sensitive data for pods to consume (v1). Data values are
// base64 in JSON, as Go encodes []byte; StringData is a write-only
// convenience merged into Data by Default.
type Secret struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Immutable  *bool             `json:"immutable,omitempty"`
	Data       map[string][]byte `json:"data,omitempty"`
	StringData map[string]string `json:"stringData,omitempty"`
	Type       SecretType        `json:"type,omitempty"`
}

// DeepCopyObject implements Object.
func (s *Secret) DeepCopyObject() Object { return s.DeepCopy() }

// SecretType tells what a Secret holds and which keys it must have.
type SecretType string

// Secret types and the keys they require.
const (
	SecretTypeOpaque              SecretType = "Opaque"
	SecretTypeServiceAccountToken SecretType = "kubernetes.io/service-account-token"
	SecretTypeDockercfg           SecretType = "kubernetes.io/dockercfg"
	SecretTypeDockerConfigJSON    SecretType = "kubernetes.io/dockerconfigjson"
	SecretTypeBasicAuth           SecretType = "kubernetes.io/basic-auth"
	SecretTypeSSHAuth             SecretType = "kubernetes.io/ssh-auth"
	SecretTypeTLS                 SecretType = "kubernetes.io/tls"
	SecretTypeBootstrapToken      SecretType = "bootstrap.kubernetes.io/token"

	DockerConfigKey      = ".dockercfg"
	DockerConfigJSONKey  = ".dockerconfigjson"
	BasicAuthUsernameKey = "username"
	BasicAuthPasswordKey = "password"
	SSHAuthPrivateKey    = "ssh-privatekey"
	TLSCertKey           = "tls.crt"
	TLSPrivateKeyKey     = "tls.key"
)

// Default implements Defaulter: type Opaque, and stringData merged into
// data (stringData wins) and cleared, as the API server does.
func (s *Secret) Default() {
	if s.Type == "" {
		s.Type = SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}

// Validate implements Validator: keys are valid, the total size is at most
// 1 MiB, and a typed Secret has the keys its type requires.
func (s *Secret) Validate() ErrorList {
	var errs ErrorList
	dp := NewPath("data")
	size := 0
	for _, k := range sortedKeys(s.Data) {
		errs = appendMsgs(errs, dp.Key(k), k, IsConfigMapKey(k))
		size += len(s.Data[k])
	}
	for _, k := range sortedKeys(s.StringData) {
		errs = appendMsgs(errs, NewPath("stringData").Key(k), k, IsConfigMapKey(k))
		if _, ok := s.Data[k]; !ok {
			size += len(s.StringData[k])
		}
	}
	if size > MaxSecretSize {
		errs = append(errs, TooLong(dp, "", MaxSecretSize))
	}
	has := func(k string) bool {
		if _, ok := s.Data[k]; ok {
			return true
		}
		_, ok := s.StringData[k]
		return ok
	}
	require := func(keys ...string) {
		for _, k := range keys {
			if !has(k) {
				errs = append(errs, Required(dp.Key(k), ""))
			}
		}
	}
	switch s.Type {
	case SecretTypeDockercfg:
		require(DockerConfigKey)
	case SecretTypeDockerConfigJSON:
		require(DockerConfigJSONKey)
	case SecretTypeBasicAuth:
		if !has(BasicAuthUsernameKey) && !has(BasicAuthPasswordKey) {
			errs = append(errs, Required(dp.Key(BasicAuthUsernameKey), ""), Required(dp.Key(BasicAuthPasswordKey), ""))
		}
	case SecretTypeSSHAuth:
		require(SSHAuthPrivateKey)
	case SecretTypeTLS:
		require(TLSCertKey, TLSPrivateKeyKey)
	case "":
		errs = append(errs, Required(NewPath("type"), ""))
	}
	return errs
}

// ValidateUpdate implements UpdateValidator: the type never changes; an
// immutable Secret keeps its data and stays immutable.
func (s *Secret) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*Secret)
	if !ok {
		return ErrorList{Invalid(NewPath("kind"), fmt.Sprintf("%T", old), "cannot validate an update of a Secret against it")}
	}
	var errs ErrorList
	if s.Type != o.Type {
		errs = append(errs, Invalid(NewPath("type"), string(s.Type), "field is immutable"))
	}
	if o.Immutable != nil && *o.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, Forbidden(NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !maps.EqualFunc(s.Data, o.Data, bytes.Equal) || len(s.StringData) > 0 {
			errs = append(errs, Forbidden(NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return errs
}
