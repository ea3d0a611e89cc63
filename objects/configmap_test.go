package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateConfigMap(t *testing.T) {
	cases := []struct {
		name string
		cm   ConfigMap
		want []string
	}{
		{"valid", ConfigMap{Data: map[string]string{"app.conf": "x", "KEY_1": "y"}, BinaryData: map[string][]byte{"blob.bin": {1}}}, nil},
		{"bad keys", ConfigMap{Data: map[string]string{"a/b": "x"}, BinaryData: map[string][]byte{"..x": nil}}, []string{
			`data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.'*`,
			`binaryData[..x]: Invalid value: "..x": must not be '.' or '..' or start with '..'`,
		}},
		{"key in both", ConfigMap{Data: map[string]string{"k": "x"}, BinaryData: map[string][]byte{"k": {1}}}, []string{
			`data[k]: Invalid value: "k": duplicate of key present in binaryData`,
			`binaryData[k]: Invalid value: "k": duplicate of key present in data`,
		}},
		{"too large", ConfigMap{Data: map[string]string{"a": strings.Repeat("x", 1<<19)}, BinaryData: map[string][]byte{"b": make([]byte, 1<<19+1)}}, []string{
			`: Too long: must have at most 1048576 bytes`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertFieldErrors(t, tc.want, tc.cm.Validate())
		})
	}
}

func TestConfigMapValidateUpdate(t *testing.T) {
	old := &ConfigMap{Data: map[string]string{"a": "1"}}
	c := old.DeepCopy()
	c.Data["a"] = "2"
	assert.Empty(t, c.ValidateUpdate(old), "a mutable ConfigMap changes freely")

	old.Immutable = ptrOf(true)
	c = old.DeepCopy()
	assert.Empty(t, c.ValidateUpdate(old))
	c.Data["a"] = "2"
	c.Immutable = nil
	assertFieldErrors(t, []string{
		"immutable: Forbidden: field is immutable when `immutable` is set",
		"data: Forbidden: field is immutable when `immutable` is set",
	}, c.ValidateUpdate(old))
}
