package objects

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeMultiDocument(t *testing.T) {
	in := `
# leading comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
data:
  k: v
---
---
# an empty document above, a comment-only one here
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        resources:
          requests: {cpu: 0.5, memory: 128Mi}
--- 
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {token: dG9rZW4=}
`
	objs, err := DecodeYAML(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, objs, 3)
	cm := objs[0].(*ConfigMap)
	assert.Equal(t, "a", cm.Name)
	assert.Equal(t, "v", cm.Data["k"])
	d := objs[1].(*Deployment)
	assert.Equal(t, int32(2), *d.Spec.Replicas)
	cpu := d.Spec.Template.Spec.Containers[0].Resources.Requests[ResourceCPU]
	assert.Equal(t, int64(500), cpu.MilliValue())
	assert.Equal(t, []byte("token"), objs[2].(*Secret).Data["token"])
}

// A separator may carry a comment, as Kubernetes' YAML reader allows; what
// follows it is still decoded, strictly. Text after "---" that is not a
// comment is refused, not read as the start of a document that would hide
// every one after it.
func TestDecodeSeparators(t *testing.T) {
	doc := func(name string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\n" }
	objs, err := DecodeYAML(strings.NewReader("--- # first\n" + doc("a") + "--- # second\n" + doc("b") + "---\t# third\n" + doc("c")))
	require.NoError(t, err)
	require.Len(t, objs, 3)
	assert.Equal(t, "c", objs[2].GetObjectMeta().Name)

	_, err = DecodeYAML(strings.NewReader(doc("a") + "--- # b\n" + doc("b") + "bogus: 1\n"))
	require.Error(t, err, "a document after a commented separator is decoded strictly")
	assert.Contains(t, err.Error(), `document 2 (ConfigMap "b"): unknown field "bogus"`)

	for _, line := range []string{"--- {kind: ConfigMap}", "--- x", "----"} {
		_, err = DecodeYAML(strings.NewReader(doc("a") + line + "\n" + doc("b")))
		var me *ManifestError
		require.True(t, errors.As(err, &me), "%q: %v", line, err)
		assert.Equal(t, 2, me.Document)
		assert.Contains(t, err.Error(), "invalid YAML document separator", line)
	}
}

// The blank start of a stream before its first "---" is not a document:
// the first object is document 1.
func TestDecodeLeadingSeparatorNumbering(t *testing.T) {
	for _, in := range []string{"---\n", "\n# a file\n---\n"} {
		_, err := DecodeYAML(strings.NewReader(in + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nbogus: 1\n"))
		var me *ManifestError
		require.True(t, errors.As(err, &me), "%q: %v", in, err)
		assert.Equal(t, 1, me.Document, "%q", in)
	}
	// Empty documents between separators still count, as a reader counts them.
	_, err := DecodeYAML(strings.NewReader("---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nbogus: 1\n"))
	var me *ManifestError
	require.True(t, errors.As(err, &me))
	assert.Equal(t, 2, me.Document)
}

func TestDecodeJSON(t *testing.T) {
	in := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}
{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}]}
[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}]`
	objs, err := DecodeYAML(strings.NewReader(in))
	require.NoError(t, err)
	var names []string
	for _, o := range objs {
		names = append(names, o.GetObjectMeta().Name)
	}
	assert.Equal(t, []string{"a", "b", "c"}, names)
}

func TestDecodeStrictErrors(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\n"
	cases := []struct {
		name, doc string
		want      []string // substrings of the error
	}{
		{"unknown field", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicaz: 3
`, []string{`document 2 (Deployment "web")`, `unknown field "spec.replicaz"`}},
		{"misspelt case", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  Replicas: 3
`, []string{`document 2 (Deployment "web")`, `unknown field "spec.Replicas"`}},
		{"nested unknown field", `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: x
    imagePolicy: Always
`, []string{`document 2 (Pod "p")`, `spec.containers[0].imagePolicy`}},
		{"unknown field of a PodDisruptionBudget", `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 2
  unhealthyPodEvictionPolcy: AlwaysAllow
`, []string{`document 2 (PodDisruptionBudget "web")`, `unknown field "spec.unhealthyPodEvictionPolcy"`}},
		{"PodDisruptionBudget in policy/v1beta1", `apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: {name: web}
`, []string{`document 2 (PodDisruptionBudget "web")`, `policy/v1`}},
		{"unknown field of an autoscaling/v1 autoscaler", `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {kind: Deployment, name: web}
  maxReplicas: 3
  targetCPUUtilisationPercentage: 50
`, []string{`document 2 (HorizontalPodAutoscaler "web")`, `unknown field "spec.targetCPUUtilisationPercentage"`}},
		{"autoscaling/v1 autoscaler with v2 metrics in an annotation", `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: web
  annotations: {autoscaling.alpha.kubernetes.io/metrics: '[]'}
spec:
  scaleTargetRef: {kind: Deployment, name: web}
  maxReplicas: 3
`, []string{`document 2 (HorizontalPodAutoscaler "web")`, `metadata.annotations[autoscaling.alpha.kubernetes.io/metrics]`, `autoscaling/v2`}},
		{"wrong type", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: three
`, []string{`document 2 (Deployment "web")`, `spec.replicas`, `integer`}},
		{"unsupported kind", `apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
`, []string{`document 2 (Widget "w")`, `unsupported kind "Widget"`}},
		{"wrong version", `apiVersion: apps/v1beta1
kind: Deployment
metadata: {name: web}
`, []string{`document 2 (Deployment "web")`, `apps/v1`}},
		{"no kind", `apiVersion: v1
metadata: {name: x}
`, []string{`document 2`, `kind: Required value`}},
		{"duplicate field", `apiVersion: v1
kind: ConfigMap
metadata: {name: x}
data: {a: "1"}
data: {b: "2"}
`, []string{`document 2`}},
		{"bad yaml", "apiVersion: v1\nkind: ConfigMap\n  metadata: {name: x\n", []string{`document 2`, `YAML`}},
		{"number for a map's string", `apiVersion: v1
kind: ConfigMap
metadata: {name: x}
data: {host: db, port: 5432}
`, []string{`data[port]: Invalid value: a JSON number where a string is expected`}},
		{"number for a label", `apiVersion: v1
kind: ConfigMap
metadata: {name: x, labels: {app: web, app.kubernetes.io/version: 2}}
`, []string{`metadata.labels[app.kubernetes.io/version]: Invalid value: a JSON number`}},
		{"type error in a list", `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - {name: a, image: x}
  - name: b
    image: y
    env: [{name: A, value: "1"}, {name: B, value: 2}]
`, []string{`spec.containers[1].env[1].value: Invalid value: a JSON number where a string is expected`}},
		{"object for a string", `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: a, image: {repository: x}}]
`, []string{`spec.containers[0].image: Invalid value: a JSON object where a string is expected`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := DecodeYAML(strings.NewReader(cm + tc.doc))
			require.Error(t, err)
			assert.Nil(t, objs, "nothing of a failed stream is returned")
			var me *ManifestError
			require.True(t, errors.As(err, &me), "error is a *ManifestError: %v", err)
			assert.Equal(t, 2, me.Document)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80, name: http}]
        resources:
          limits: {cpu: "1", memory: 1.5Gi}
`
	objs, err := DecodeYAML(strings.NewReader(in))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, EncodeYAML(&buf, objs...))
	assert.Contains(t, buf.String(), "memory: 1536Mi", "quantities are written in canonical form")
	again, err := DecodeYAML(&buf)
	require.NoError(t, err, buf.String())
	require.Len(t, again, 1)
	assert.Equal(t, objs[0], again[0])
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n"))
	f.Add([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x"}]}}`))
	f.Add([]byte(`[{"apiVersion":"v1","kind":"List","items":[]}]`))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("kind: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewScheme()
		objs, err := s.DecodeBytes(data)
		if err != nil {
			var me *ManifestError
			if !errors.As(err, &me) && !strings.Contains(err.Error(), "read manifest") {
				t.Fatalf("decode error is not a *ManifestError: %T %v", err, err)
			}
			return
		}
		// Whatever decodes must encode and decode back to the same objects.
		var buf bytes.Buffer
		if err := s.EncodeYAML(&buf, objs...); err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := s.DecodeBytes(buf.Bytes())
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, buf.String())
		}
		if len(again) != len(objs) {
			t.Fatalf("re-decoded %d objects, want %d", len(again), len(objs))
		}
	})
}

// FuzzDecodeValidate feeds whatever decodes through defaulting and
// validation, as Apply and the store do on every write: neither may panic,
// and a valid object must stay valid once defaulted again (defaulting is
// idempotent) and as an update of itself.
func FuzzDecodeValidate(f *testing.F) {
	f.Add([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}}}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: NodePort, ports: [{port: 80, targetPort: http, nodePort: 30001}]}\n"))
	f.Add([]byte("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: '*/1 * * * *', jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: x}]}}}}}\n"))
	f.Add([]byte("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec: {rules: [{host: a.example, http: {paths: [{path: /a, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}]}}]}\n"))
	f.Add([]byte("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: {scaleTargetRef: {kind: Deployment, name: web}, maxReplicas: 3, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}\n"))
	f.Add([]byte("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec: {serviceName: db, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}, volumeClaimTemplates: [{metadata: {name: d}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewScheme()
		objs, err := s.DecodeBytes(data)
		if err != nil {
			return
		}
		for _, obj := range objs {
			// Namespaced objects without one go to "default", as Apply
			// puts them.
			if k, err := s.SetTypeMeta(obj); err == nil && k.Namespaced && obj.GetObjectMeta().Namespace == "" {
				obj.GetObjectMeta().Namespace = "default"
			}
			s.Default(obj)
			if s.Validate(obj) != nil {
				continue
			}
			again := obj.DeepCopyObject()
			s.Default(again)
			if err := s.Validate(again); err != nil {
				t.Fatalf("valid %s invalid once defaulted again: %v", obj.GetTypeMeta().Kind, err)
			}
			if err := s.ValidateUpdate(again, obj); err != nil {
				t.Fatalf("valid %s refused as an update of itself: %v", obj.GetTypeMeta().Kind, err)
			}
		}
	})
}

// An autoscaling/v1 autoscaler decodes as the autoscaling/v2 one the API
// server converts it to: its CPU target becomes a Resource metric.
func TestDecodeAutoscalingV1(t *testing.T) {
	objs, err := DecodeYAML(strings.NewReader(`apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  targetCPUUtilizationPercentage: 65
status: {currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 90}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: shop}
spec:
  scaleTargetRef: {kind: StatefulSet, name: api}
  maxReplicas: 4
`))
	require.NoError(t, err)
	require.Len(t, objs, 2)
	want := &HorizontalPodAutoscaler{
		TypeMeta:   TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: HorizontalPodAutoscalerSpec{
			ScaleTargetRef: CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptrOf(int32(2)),
			MaxReplicas:    10,
			Metrics: []MetricSpec{{Type: ResourceMetricSourceType, Resource: &ResourceMetricSource{
				Name: ResourceCPU, Target: MetricTarget{Type: UtilizationMetricType, AverageUtilization: ptrOf(int32(65))}}}},
		},
		Status: HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 3,
			CurrentMetrics: []MetricStatus{{Type: ResourceMetricSourceType, Resource: &ResourceMetricStatus{
				Name: ResourceCPU, Current: MetricValueStatus{AverageUtilization: ptrOf(int32(90))}}}}},
	}
	assert.Equal(t, want, objs[0])

	// Without a target it gets autoscaling/v2's default, 80% CPU.
	api := objs[1].(*HorizontalPodAutoscaler)
	assert.Equal(t, "autoscaling/v2", api.APIVersion)
	assert.Empty(t, api.Spec.Metrics)
	NewScheme().Default(api)
	require.Len(t, api.Spec.Metrics, 1)
	assert.Equal(t, int32(DefaultCPUUtilization), *api.Spec.Metrics[0].Resource.Target.AverageUtilization)
	assert.Empty(t, NewScheme().Validate(api))

	// A scheme without autoscalers does not decode the older version either.
	s := &Scheme{}
	_, err = s.DecodeBytes([]byte("apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n"))
	require.ErrorContains(t, err, `unsupported kind "HorizontalPodAutoscaler"`)
}
