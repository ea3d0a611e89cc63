package objects

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
)

// MaxConfigMapSize and MaxSecretSize bound the data a ConfigMap or Secret
// holds, as in Kubernetes (1 MiB).
const (
	MaxConfigMapSize = 1 << 20
	MaxSecretSize    = 1 << 20
)

// ConfigMap holds configuration data for pods to consume (v1).
type ConfigMap struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Immutable  *bool             `json:"immutable,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string][]byte `json:"binaryData,omitempty"`
}

// DeepCopyObject implements Object.
func (c *ConfigMap) DeepCopyObject() Object { return c.DeepCopy() }

// Validate implements Validator: keys are valid config keys, data and
// binaryData do not share a key, and the total size is at most 1 MiB.
func (c *ConfigMap) Validate() ErrorList {
	var errs ErrorList
	size := 0
	for _, k := range sortedKeys(c.Data) {
		kp := NewPath("data").Key(k)
		errs = appendMsgs(errs, kp, k, IsConfigMapKey(k))
		if _, ok := c.BinaryData[k]; ok {
			errs = append(errs, Invalid(kp, k, "duplicate of key present in binaryData"))
		}
		size += len(c.Data[k])
	}
	for _, k := range sortedKeys(c.BinaryData) {
		kp := NewPath("binaryData").Key(k)
		errs = appendMsgs(errs, kp, k, IsConfigMapKey(k))
		if _, ok := c.Data[k]; ok {
			errs = append(errs, Invalid(kp, k, "duplicate of key present in data"))
		}
		size += len(c.BinaryData[k])
	}
	if size > MaxConfigMapSize {
		errs = append(errs, TooLong(NewPath(""), "", MaxConfigMapSize))
	}
	return errs
}

// ValidateUpdate implements UpdateValidator: an immutable ConfigMap keeps
// its data and stays immutable.
func (c *ConfigMap) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*ConfigMap)
	if !ok {
		return ErrorList{Invalid(NewPath("kind"), fmt.Sprintf("%T", old), "cannot validate an update of a ConfigMap against it")}
	}
	if o.Immutable == nil || !*o.Immutable {
		return nil
	}
	var errs ErrorList
	if c.Immutable == nil || !*c.Immutable {
		errs = append(errs, Forbidden(NewPath("immutable"), "field is immutable when `immutable` is set"))
	}
	if !maps.Equal(c.Data, o.Data) {
		errs = append(errs, Forbidden(NewPath("data"), "field is immutable when `immutable` is set"))
	}
	if !maps.EqualFunc(c.BinaryData, o.BinaryData, bytes.Equal) {
		errs = append(errs, Forbidden(NewPath("binaryData"), "field is immutable when `immutable` is set"))
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
