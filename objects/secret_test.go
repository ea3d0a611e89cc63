package objects

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSecretDefault(t *testing.T) {
	s := &Secret{Data: map[string][]byte{"a": []byte("old"), "b": []byte("keep")}, StringData: map[string]string{"a": "new", "c": "added"}}
	s.Default()
	assert.Equal(t, SecretTypeOpaque, s.Type)
	assert.Equal(t, map[string][]byte{"a": []byte("new"), "b": []byte("keep"), "c": []byte("added")}, s.Data)
	assert.Nil(t, s.StringData)

	s = &Secret{Type: SecretTypeTLS, StringData: map[string]string{"tls.crt": "c", "tls.key": "k"}}
	s.Default()
	assert.Equal(t, SecretTypeTLS, s.Type)
	assert.Len(t, s.Data, 2)
	assert.Empty(t, s.Validate())
}

func TestValidateSecret(t *testing.T) {
	big := make([]byte, MaxSecretSize+1)
	cases := []struct {
		name string
		s    Secret
		want []string
	}{
		{"valid", Secret{Type: SecretTypeOpaque, Data: map[string][]byte{"password": []byte("x")}}, nil},
		{"bad key", Secret{Type: SecretTypeOpaque, Data: map[string][]byte{"a b": nil}}, []string{
			`data[a b]: Invalid value: "a b": a valid config key must consist of*`,
		}},
		{"too large", Secret{Type: SecretTypeOpaque, Data: map[string][]byte{"k": big}}, []string{
			"data: Too long: must have at most 1048576 bytes",
		}},
		{"tls keys", Secret{Type: SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("c")}}, []string{
			"data[tls.key]: Required value",
		}},
		{"basic auth", Secret{Type: SecretTypeBasicAuth}, []string{
			"data[username]: Required value",
			"data[password]: Required value",
		}},
		{"basic auth with password", Secret{Type: SecretTypeBasicAuth, Data: map[string][]byte{"password": []byte("p")}}, nil},
		{"docker config", Secret{Type: SecretTypeDockerConfigJSON}, []string{"data[.dockerconfigjson]: Required value"}},
		{"ssh", Secret{Type: SecretTypeSSHAuth}, []string{"data[ssh-privatekey]: Required value"}},
		{"a host's own type", Secret{Type: "example.com/token", Data: map[string][]byte{"t": nil}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertFieldErrors(t, tc.want, tc.s.Validate())
		})
	}
}

func TestSecretValidateUpdate(t *testing.T) {
	old := &Secret{Type: SecretTypeOpaque, Data: map[string][]byte{"a": []byte("1")}}
	s := old.DeepCopy()
	s.Data["a"] = []byte("2")
	assert.Empty(t, s.ValidateUpdate(old))
	s.Type = SecretTypeTLS
	assertFieldErrors(t, []string{`type: Invalid value: "kubernetes.io/tls": field is immutable`}, s.ValidateUpdate(old))

	old.Immutable = ptrOf(true)
	s = old.DeepCopy()
	assert.Empty(t, s.ValidateUpdate(old))
	s.Data["b"] = []byte("x")
	assertFieldErrors(t, []string{"data: Forbidden: field is immutable when `immutable` is set"}, s.ValidateUpdate(old))
}

func TestSecretJSON(t *testing.T) {
	const manifest = `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default"},"type":"Opaque",
"data":{"password":"c2VjcmV0"},"stringData":{"user":"admin"},"immutable":true}`
	objs, err := NewScheme().DecodeBytes([]byte(manifest))
	require.NoError(t, err)
	s := objs[0].(*Secret)
	assert.Equal(t, []byte("secret"), s.Data["password"], "data is base64 in JSON")
	s.Default()
	assert.Equal(t, []byte("admin"), s.Data["user"])
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"data":{"password":"c2VjcmV0","user":"YWRtaW4="}`)
	assert.NotContains(t, string(b), "stringData")
}
