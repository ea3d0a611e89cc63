package objects

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A serviceAccountToken projection decodes from Kubernetes' YAML, gets
// Kubernetes' default lifetime, and keeps an explicit one.
func TestServiceAccountTokenProjectionDecode(t *testing.T) {
	objs, err := DecodeYAML(strings.NewReader(`apiVersion: v1
kind: Pod
metadata: {name: app, namespace: default}
spec:
  containers: [{name: app, image: app:1, volumeMounts: [{name: token, mountPath: /var/run/secrets/tokens}]}]
  volumes:
  - name: token
    projected:
      sources:
      - serviceAccountToken: {path: api-token}
      - serviceAccountToken: {path: vault-token, audience: vault, expirationSeconds: 7200}
`))
	require.NoError(t, err)
	p := objs[0].(*Pod)
	NewScheme().Default(p)
	require.NoError(t, NewScheme().Validate(p))
	src := p.Spec.Volumes[0].Projected.Sources
	require.Len(t, src, 2)
	assert.Equal(t, ServiceAccountTokenProjection{Path: "api-token", ExpirationSeconds: ptrOf[int64](3600)}, *src[0].ServiceAccountToken)
	assert.Equal(t, ServiceAccountTokenProjection{Path: "vault-token", Audience: "vault", ExpirationSeconds: ptrOf[int64](7200)}, *src[1].ServiceAccountToken)

	_, err = DecodeYAML(strings.NewReader(`apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers: [{name: app, image: app:1}]
  volumes: [{name: t, projected: {sources: [{serviceAccountToken: {path: t, audiences: [a]}}]}}]
`))
	require.Error(t, err, "a misspelt field is an error, never dropped")
	assert.Contains(t, err.Error(), "audiences")
}

func TestValidateServiceAccountTokenProjection(t *testing.T) {
	token := func(path string, exp *int64) VolumeProjection {
		return VolumeProjection{ServiceAccountToken: &ServiceAccountTokenProjection{Path: path, ExpirationSeconds: exp}}
	}
	projected := func(srcs ...VolumeProjection) func(*Pod) {
		return func(p *Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, Volume{Name: "t", VolumeSource: VolumeSource{Projected: &ProjectedVolumeSource{Sources: srcs}}})
		}
	}
	runPodCases(t, []podCase{
		{"valid", projected(token("token", nil), token("dir/other", ptrOf[int64](600)), token("max", ptrOf(MaxTokenExpirationSeconds))), nil},
		// The path's errors name the volume's field, as Kubernetes' do.
		{"path required", projected(token("", nil)), []string{
			"spec.volumes[1].projected.path: Required value",
		}},
		{"absolute path", projected(token("/token", nil)), []string{
			`spec.volumes[1].projected.path: Invalid value: "/token": must be a relative path`,
		}},
		{"path with backsteps", projected(token("a/../../token", nil), token("..token", nil)), []string{
			`spec.volumes[1].projected.path: Invalid value: "a/../../token": must not contain '..'`,
			`spec.volumes[1].projected.path: Invalid value: "..token": must not start with '..'`,
		}},
		{"too short", projected(token("t", ptrOf[int64](599))), []string{
			"spec.volumes[1].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes",
		}},
		{"zero", projected(token("t", ptrOf[int64](0))), []string{
			"spec.volumes[1].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 0: may not specify a duration less than 10 minutes",
		}},
		{"too long", projected(token("t", ptrOf(MaxTokenExpirationSeconds+1))), []string{
			"spec.volumes[1].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds",
		}},
		{"two sources in one", projected(VolumeProjection{
			ServiceAccountToken: &ServiceAccountTokenProjection{Path: "t"},
			ConfigMap:           &ConfigMapProjection{LocalObjectReference: LocalObjectReference{Name: "c"}},
		}), []string{
			"spec.volumes[1].projected.sources[0]: Forbidden: may not specify more than 1 volume type per source",
		}},
		{"no source", projected(VolumeProjection{}), []string{
			"spec.volumes[1].projected.sources[0]: Required value: must specify exactly 1 volume type",
		}},
	})
}

func TestValidateTokenRequestSpec(t *testing.T) {
	for _, tc := range []struct {
		exp  *int64
		want string
	}{
		{nil, ""},
		{ptrOf[int64](600), ""},
		{ptrOf[int64](599), `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes`},
		{ptrOf(int64(1<<32 + 1)), `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds`},
	} {
		s := TokenRequestSpec{ExpirationSeconds: tc.exp}
		s.Default()
		err := ValidateTokenRequestSpec(&s).ToError(TokenRequestKind, "")
		if tc.want == "" {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err)
		assert.True(t, errors.Is(err, ErrInvalid))
		assert.Equal(t, tc.want, err.Error())
	}
	var s TokenRequestSpec
	s.Default()
	assert.Equal(t, int64(3600), *s.ExpirationSeconds)
}
