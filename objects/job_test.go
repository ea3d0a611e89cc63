package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newJob() *Job {
	t := testTemplate(nil)
	t.Spec.RestartPolicy = RestartPolicyNever
	return &Job{
		ObjectMeta: ObjectMeta{Name: "pi", Namespace: "default"},
		Spec:       JobSpec{Template: t},
	}
}

func TestJobDefault(t *testing.T) {
	cases := []struct {
		name                     string
		completions, parallelism *int32
		wantC, wantP             *int32
	}{
		{"both unset", nil, nil, ptrTo[int32](1), ptrTo[int32](1)},
		{"completions set", ptrTo[int32](5), nil, ptrTo[int32](5), ptrTo[int32](1)},
		{"parallelism set: work queue", nil, ptrTo[int32](3), nil, ptrTo[int32](3)},
		{"both set", ptrTo[int32](5), ptrTo[int32](2), ptrTo[int32](5), ptrTo[int32](2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJob()
			j.Spec.Completions, j.Spec.Parallelism = c.completions, c.parallelism
			j.Default()
			assert.Equal(t, c.wantC, j.Spec.Completions)
			assert.Equal(t, c.wantP, j.Spec.Parallelism)
		})
	}

	j := newJob()
	j.Spec.Template.Labels = map[string]string{"app": "pi"}
	j.Default()
	assert.Equal(t, int32(6), *j.Spec.BackoffLimit)
	assert.Equal(t, NonIndexedCompletion, *j.Spec.CompletionMode)
	assert.False(t, *j.Spec.Suspend)
	assert.Nil(t, j.Spec.ManualSelector)
	assert.Equal(t, map[string]string{"app": "pi"}, j.Labels, "labels copied from the template")
	assert.Nil(t, j.Spec.Selector, "no uid yet: selector left to be generated")
	j.Labels["x"] = "y"
	assert.NotContains(t, j.Spec.Template.Labels, "x", "labels copied, not shared")
}

func TestJobGenerateSelector(t *testing.T) {
	j := newJob()
	j.UID = "0b9f-uid"
	j.Default()
	assert.Equal(t, &LabelSelector{MatchLabels: map[string]string{ControllerUIDLabel: "0b9f-uid"}}, j.Spec.Selector)
	assert.Equal(t, map[string]string{
		ControllerUIDLabel: "0b9f-uid", LegacyControllerUIDLabel: "0b9f-uid",
		JobNameLabel: "pi", LegacyJobNameLabel: "pi",
	}, j.Spec.Template.Labels)
	assert.Empty(t, j.Validate())

	before := j.DeepCopy()
	j.GenerateSelector()
	assert.Equal(t, before, j, "idempotent")

	manual := newJob()
	manual.UID = "u"
	manual.Spec.ManualSelector = ptrTo(true)
	manual.GenerateSelector()
	assert.Nil(t, manual.Spec.Selector)
}

func TestJobValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Job)
		want   []string
	}{
		{"valid without uid", func(*Job) {}, nil},
		{"valid OnFailure", func(j *Job) { j.Spec.Template.Spec.RestartPolicy = RestartPolicyOnFailure }, nil},
		{"valid generated", func(j *Job) { j.UID = "u1"; j.GenerateSelector() }, nil},
		{"valid manual", func(j *Job) {
			j.Spec.ManualSelector = ptrTo(true)
			j.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"job": "pi"}}
			j.Spec.Template.Labels = map[string]string{"job": "pi"}
		}, nil},
		{"valid indexed", func(j *Job) {
			j.Spec.CompletionMode = ptrTo(IndexedCompletion)
			j.Spec.Completions = ptrTo[int32](3)
		}, nil},
		{"restartPolicy Always", func(j *Job) { j.Spec.Template.Spec.RestartPolicy = RestartPolicyAlways },
			[]string{"spec.template.spec.restartPolicy: Required value"}},
		{"manual without selector", func(j *Job) { j.Spec.ManualSelector = ptrTo(true) }, []string{"spec.selector: Required value"}},
		{"manual selector mismatch", func(j *Job) {
			j.Spec.ManualSelector = ptrTo(true)
			j.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"job": "pi"}}
		}, []string{"spec.template.metadata.labels: Invalid value"}},
		{"user selector without manualSelector", func(j *Job) {
			j.UID = "u1"
			j.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"job": "pi"}}
			j.Spec.Template.Labels = map[string]string{"job": "pi"}
		}, []string{
			"spec.template.metadata.labels[controller-uid]: Required value",
			"spec.template.metadata.labels[job-name]: Required value",
			"spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Required value",
			"spec.template.metadata.labels[batch.kubernetes.io/job-name]: Required value",
			"spec.selector: Invalid value",
		}},
		{"generated labels tampered", func(j *Job) {
			j.UID = "u1"
			j.GenerateSelector()
			j.Spec.Template.Labels[JobNameLabel] = "other"
		}, []string{"spec.template.metadata.labels[batch.kubernetes.io/job-name]: Invalid value"}},
		{"negative counts", func(j *Job) {
			j.Spec.Parallelism = ptrTo[int32](-1)
			j.Spec.Completions = ptrTo[int32](-1)
			j.Spec.BackoffLimit = ptrTo[int32](-1)
			j.Spec.ActiveDeadlineSeconds = ptrTo[int64](-1)
			j.Spec.TTLSecondsAfterFinished = ptrTo[int32](-1)
		}, []string{"spec.parallelism: Invalid value", "spec.completions: Invalid value", "spec.activeDeadlineSeconds: Invalid value",
			"spec.backoffLimit: Invalid value", "spec.ttlSecondsAfterFinished: Invalid value"}},
		{"indexed without completions", func(j *Job) {
			j.Spec.CompletionMode = ptrTo(IndexedCompletion)
			j.Spec.Completions = nil
		}, []string{"spec.completions: Required value"}},
		{"indexed parallelism too high", func(j *Job) {
			j.Spec.CompletionMode = ptrTo(IndexedCompletion)
			j.Spec.Parallelism = ptrTo[int32](100001)
		}, []string{"spec.parallelism: Invalid value"}},
		{"indexed name too long for hostnames", func(j *Job) {
			j.Name = strings.Repeat("a", 61) // a-...-99 would be 64 characters
			j.Spec.CompletionMode = ptrTo(IndexedCompletion)
			j.Spec.Completions = ptrTo[int32](100)
		}, []string{"metadata.name: Invalid value"}},
		{"unknown completion mode", func(j *Job) { j.Spec.CompletionMode = ptrTo(CompletionMode("Sharded")) },
			[]string{"spec.completionMode: Unsupported value"}},
		{"template checked", func(j *Job) { j.Spec.Template.Spec.Containers = nil },
			[]string{"spec.template.spec.containers: Required value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJob()
			j.Default()
			c.mutate(j)
			assert.Equal(t, c.want, errorSummary(j.Validate()))
		})
	}
}

// A Job is created without a selector unless manualSelector is true: the
// selector is generated from the uid the store assigns, after validation.
func TestJobValidateCreate(t *testing.T) {
	userSelector := func(j *Job) {
		j.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"job": "pi"}}
		j.Spec.Template.Labels = map[string]string{"job": "pi"}
	}
	cases := []struct {
		name   string
		mutate func(*Job)
		want   string
	}{
		{"no selector", func(*Job) {}, ""},
		{"selector without manualSelector", userSelector,
			`Job "pi" is invalid: spec.selector: Invalid value: {"matchLabels":{"job":"pi"}}: ` + "`selector` not auto-generated"},
		{"selector with manualSelector false", func(j *Job) { userSelector(j); j.Spec.ManualSelector = ptrTo(false) },
			`Job "pi" is invalid: spec.selector: Invalid value: {"matchLabels":{"job":"pi"}}: ` + "`selector` not auto-generated"},
		{"selector with manualSelector true", func(j *Job) { userSelector(j); j.Spec.ManualSelector = ptrTo(true) }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJob()
			c.mutate(j)
			err := validateThroughScheme(j)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, c.want, err.Error())
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}

	// Created as the orchestrator does: defaulted and validated, then
	// completed once the store has assigned the uid. Updates of the stored
	// Job, with or without its uid, pass: the create rule is not checked.
	s := NewScheme()
	j := newJob()
	s.Default(j)
	require.NoError(t, s.Validate(j))
	j.UID = "u1"
	j.PrepareForCreate()
	assert.Equal(t, &LabelSelector{MatchLabels: map[string]string{ControllerUIDLabel: "u1"}}, j.Spec.Selector)
	upd := j.DeepCopy()
	upd.UID = ""
	upd.Spec.Parallelism = ptrTo[int32](2)
	s.Default(upd)
	assert.NoError(t, s.ValidateUpdate(upd, j), "an update without the uid")
	upd.UID = j.UID
	assert.NoError(t, s.ValidateUpdate(upd, j), "an update with the uid")
}

func TestJobValidateMessages(t *testing.T) {
	j := newJob()
	j.Spec.Template.Spec.RestartPolicy = ""
	j.Spec.CompletionMode = ptrTo(IndexedCompletion)
	j.Spec.Parallelism = ptrTo[int32](2)
	err := validateThroughScheme(j)
	require.Error(t, err)
	assert.Equal(t, `Job "pi" is invalid: [`+
		`spec.completions: Required value: when completion mode is Indexed, `+
		`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"]`, err.Error())
}

func TestJobValidateUpdate(t *testing.T) {
	old := newJob()
	old.UID = "u1"
	old.Default()
	cases := []struct {
		name      string
		suspended bool
		mutate    func(*Job)
		want      []string
	}{
		{"parallelism and deadline may change", false, func(j *Job) {
			j.Spec.Parallelism = ptrTo[int32](4)
			j.Spec.ActiveDeadlineSeconds = ptrTo[int64](60)
			j.Spec.Suspend = ptrTo(true)
		}, nil},
		{"template immutable", false, func(j *Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5" },
			[]string{"spec.template: Invalid value"}},
		{"template mutable while suspended", true, func(j *Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5" }, nil},
		{"completions immutable", false, func(j *Job) { j.Spec.Completions = ptrTo[int32](3) }, []string{"spec.completions: Invalid value"}},
		{"completionMode immutable", false, func(j *Job) { j.Spec.CompletionMode = ptrTo(IndexedCompletion) },
			[]string{"spec.completionMode: Invalid value"}},
		{"selector immutable", true, func(j *Job) { j.Spec.Selector.MatchLabels[ControllerUIDLabel] = "u2" },
			[]string{"spec.selector: Invalid value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := old.DeepCopy()
			o.Spec.Suspend = ptrTo(c.suspended)
			j := o.DeepCopy()
			c.mutate(j)
			assert.Equal(t, c.want, errorSummary(j.ValidateUpdate(o)))
		})
	}

	// A Job stored before its uid was known gets its selector generated
	// by a later update.
	unsel := newJob()
	unsel.Default()
	gen := unsel.DeepCopy()
	gen.UID = "u9"
	gen.Default()
	require.NotNil(t, gen.Spec.Selector)
	assert.Empty(t, gen.ValidateUpdate(unsel))
	gen.Spec.Template.Spec.Containers[0].Image = "perl:5"
	errs := gen.ValidateUpdate(unsel)
	assert.Equal(t, []string{"spec.template: Invalid value"}, errorSummary(errs))
	assert.Regexp(t, `^spec.template: Invalid value: \{"metadata":\{.*"image":"perl:5".*\}: field is immutable$`, errs[0].Error())
}

func TestGetJobCondition(t *testing.T) {
	s := &JobStatus{Conditions: []JobCondition{{Type: JobComplete, Status: ConditionTrue}}}
	assert.Equal(t, ConditionTrue, GetJobCondition(s, JobComplete).Status)
	assert.Nil(t, GetJobCondition(s, JobFailed))
}

func TestJobManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
  namespace: default
spec:
  parallelism: 2
  completions: 5
  activeDeadlineSeconds: 100
  backoffLimit: 4
  completionMode: Indexed
  ttlSecondsAfterFinished: 60
  suspend: true
  template:
    metadata:
      labels: {app: pi}
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: perl:5.34.0
        command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]
status:
  startTime: "2024-05-01T10:00:00Z"
  completionTime: "2024-05-01T10:05:00Z"
  active: 1
  succeeded: 3
  failed: 2
  ready: 1
  completedIndexes: 0-2
  uncountedTerminatedPods: {succeeded: [a1], failed: [b2]}
  conditions:
  - type: Complete
    status: "True"
    lastProbeTime: "2024-05-01T10:05:00Z"
    lastTransitionTime: "2024-05-01T10:05:00Z"
`)
	j := obj.(*Job)
	assert.Equal(t, IndexedCompletion, *j.Spec.CompletionMode)
	assert.Equal(t, "0-2", j.Status.CompletedIndexes)
	require.NoError(t, validateThroughScheme(j))
	jsonRoundTrip(t, j)
}

func TestJobStatus(t *testing.T) {
	j := newJob()
	j.UID = "uid-1"
	j.Status = JobStatus{Succeeded: 1, Conditions: []JobCondition{{Type: JobComplete, Status: ConditionTrue}}}
	j.PrepareForCreate()
	assert.Equal(t, JobStatus{}, j.Status, "a new Job has no status, whatever was sent")

	j.Status = JobStatus{Active: -1, Ready: ptrTo[int32](-2),
		UncountedTerminatedPods: &UncountedTerminatedPods{Succeeded: []string{"a", ""}, Failed: []string{"a"}}}
	assertFieldErrors(t, []string{
		"status.active: Invalid value: -1: must be greater than or equal to 0",
		"status.ready: Invalid value: -2: must be greater than or equal to 0",
		`status.uncountedTerminatedPods.succeeded[1]: Invalid value: "": must not be empty`,
		`status.uncountedTerminatedPods.failed[0]: Duplicate value: "a"`,
	}, j.ValidateStatusUpdate(newJob()))
}

// An Indexed Job's completions may change only with parallelism, to the
// same value (elastic Indexed Jobs); other Jobs' completions are
// immutable.
func TestJobValidateUpdateElasticIndexed(t *testing.T) {
	indexed := func(completions, parallelism int32) *Job {
		j := newJob()
		j.UID = "u1"
		j.Spec.CompletionMode = ptrTo(IndexedCompletion)
		j.Spec.Completions, j.Spec.Parallelism = ptrTo(completions), ptrTo(parallelism)
		j.Default()
		return j
	}
	nonIndexed := func(completions, parallelism int32) *Job {
		j := indexed(completions, parallelism)
		j.Spec.CompletionMode = ptrTo(NonIndexedCompletion)
		return j
	}
	perIndex := func(completions, parallelism int32) *Job {
		j := indexed(completions, parallelism)
		j.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
		j.Spec.MaxFailedIndexes = ptrTo[int32](1)
		return j
	}
	scale := func(c, p *int32) func(*Job) {
		return func(j *Job) { j.Spec.Completions, j.Spec.Parallelism = c, p }
	}
	cases := []struct {
		name   string
		old    *Job
		mutate func(*Job)
		want   []string
	}{
		{"scale up", indexed(4, 4), scale(ptrTo[int32](6), ptrTo[int32](6)), nil},
		{"scale down", indexed(4, 4), scale(ptrTo[int32](1), ptrTo[int32](1)), nil},
		{"to zero", indexed(4, 4), scale(ptrTo[int32](0), ptrTo[int32](0)), nil},
		{"from unequal to equal", indexed(4, 2), scale(ptrTo[int32](3), ptrTo[int32](3)), nil},
		{"parallelism alone", indexed(4, 4), scale(ptrTo[int32](4), ptrTo[int32](2)), nil},
		{"a billion", indexed(4, 4), scale(ptrTo[int32](1_000_000_000), ptrTo[int32](100_000)),
			[]string{"spec.completions: Invalid value: 1000000000: can only be modified in tandem with spec.parallelism"}},
		{"completions alone", indexed(4, 4), scale(ptrTo[int32](6), ptrTo[int32](4)),
			[]string{"spec.completions: Invalid value: 6: can only be modified in tandem with spec.parallelism"}},
		{"both, unequal", indexed(4, 4), scale(ptrTo[int32](6), ptrTo[int32](5)),
			[]string{"spec.completions: Invalid value: 6: can only be modified in tandem with spec.parallelism"}},
		{"completions unset", indexed(4, 4), scale(nil, ptrTo[int32](4)),
			[]string{"spec.completions: Required value: when completion mode is Indexed"}},
		{"beyond the parallelism limit", indexed(4, 4), scale(ptrTo[int32](100_001), ptrTo[int32](100_001)),
			[]string{"spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed"}},
		{"per-index limits still apply", perIndex(4, 4), scale(ptrTo[int32](100_001), ptrTo[int32](100_001)), []string{
			"spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed",
			"spec.parallelism: Invalid value: 100001: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
		}},
		{"not indexed", nonIndexed(4, 4), scale(ptrTo[int32](6), ptrTo[int32](6)),
			[]string{"spec.completions: Invalid value: 6: field is immutable"}},
		{"not indexed, unset", nonIndexed(4, 4), scale(nil, ptrTo[int32](4)),
			[]string{"spec.completions: Invalid value: null: field is immutable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := c.old.DeepCopy()
			c.mutate(j)
			errs := append(j.Validate(), j.ValidateUpdate(c.old)...)
			assertFieldErrors(t, c.want, errs)
		})
	}
}
