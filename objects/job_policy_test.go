package objects

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// policyJob is a valid Job whose pod has the container "abc" and the init
// container "def", defaulted.
func policyJob() *Job {
	j := newJob()
	j.Spec.Template.Spec.Containers[0].Name = "abc"
	j.Spec.Template.Spec.InitContainers = []Container{{Name: "def", Image: "busybox:1.36"}}
	j.Default()
	return j
}

func indexed(j *Job, completions int32) {
	j.Spec.CompletionMode = ptrTo(IndexedCompletion)
	j.Spec.Completions = ptrTo(completions)
}

func exitCodes(action PodFailurePolicyAction, op PodFailurePolicyOnExitCodesOperator, values ...int32) PodFailurePolicyRule {
	return PodFailurePolicyRule{Action: action, OnExitCodes: &PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}}
}

func onConditions(action PodFailurePolicyAction, t PodConditionType, s ConditionStatus) PodFailurePolicyRule {
	return PodFailurePolicyRule{Action: action, OnPodConditions: []PodFailurePolicyOnPodConditionsPattern{{Type: t, Status: s}}}
}

func withPodFailurePolicy(rules ...PodFailurePolicyRule) func(*Job) {
	return func(j *Job) {
		j.Spec.PodFailurePolicy = &PodFailurePolicy{Rules: rules}
		j.Spec.PodReplacementPolicy = ptrTo(FailedPodReplacement)
	}
}

func TestJobPolicyDefaults(t *testing.T) {
	j := newJob()
	j.Spec.PodFailurePolicy = &PodFailurePolicy{Rules: []PodFailurePolicyRule{
		{Action: PodFailurePolicyActionIgnore, OnPodConditions: []PodFailurePolicyOnPodConditionsPattern{{Type: DisruptionTarget}, {Type: "X", Status: ConditionFalse}}},
	}}
	j.Default()
	assert.Equal(t, ConditionTrue, j.Spec.PodFailurePolicy.Rules[0].OnPodConditions[0].Status, "status defaults to True")
	assert.Equal(t, ConditionFalse, j.Spec.PodFailurePolicy.Rules[0].OnPodConditions[1].Status)
	assert.Equal(t, FailedPodReplacement, *j.Spec.PodReplacementPolicy, "Failed with a pod failure policy")
	assert.Equal(t, int32(6), *j.Spec.BackoffLimit)
	assert.Nil(t, j.Spec.ManagedBy)

	plain := newJob()
	plain.Default()
	assert.Equal(t, TerminatingOrFailedPodReplacement, *plain.Spec.PodReplacementPolicy, "TerminatingOrFailed without one")

	perIndex := newJob()
	indexed(perIndex, 3)
	perIndex.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
	perIndex.Default()
	assert.Equal(t, int32(1<<31-1), *perIndex.Spec.BackoffLimit, "unlimited with backoffLimitPerIndex")

	kept := newJob()
	kept.Spec.BackoffLimit = ptrTo[int32](2)
	kept.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
	kept.Spec.PodReplacementPolicy = ptrTo(FailedPodReplacement)
	kept.Default()
	assert.Equal(t, int32(2), *kept.Spec.BackoffLimit)
	assert.Equal(t, FailedPodReplacement, *kept.Spec.PodReplacementPolicy)
}

func TestJobPolicyValidateValid(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Job)
	}{
		{"pod failure policy", withPodFailurePolicy(
			onConditions(PodFailurePolicyActionIgnore, DisruptionTarget, ConditionTrue),
			onConditions(PodFailurePolicyActionFailJob, "CustomConditionType", ConditionFalse),
			PodFailurePolicyRule{Action: PodFailurePolicyActionCount, OnExitCodes: &PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptrTo("abc"), Operator: PodFailurePolicyOnExitCodesOpIn, Values: []int32{1, 2, 3}}},
			PodFailurePolicyRule{Action: PodFailurePolicyActionIgnore, OnExitCodes: &PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptrTo("def"), Operator: PodFailurePolicyOnExitCodesOpIn, Values: []int32{4}}},
			exitCodes(PodFailurePolicyActionFailJob, PodFailurePolicyOnExitCodesOpNotIn, 5, 6, 7),
		)},
		{"FailIndex with backoffLimitPerIndex", func(j *Job) {
			indexed(j, 2)
			j.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
			withPodFailurePolicy(exitCodes(PodFailurePolicyActionFailIndex, PodFailurePolicyOnExitCodesOpIn, 10))(j)
		}},
		{"success policy", func(j *Job) {
			indexed(j, 10)
			j.Spec.SuccessPolicy = &SuccessPolicy{Rules: []SuccessPolicyRule{
				{SucceededCount: ptrTo[int32](1), SucceededIndexes: ptrTo("0,2,4")},
				{SucceededIndexes: ptrTo("1,3,5-9")},
			}}
		}},
		{"replacement Failed", func(j *Job) { j.Spec.PodReplacementPolicy = ptrTo(FailedPodReplacement) }},
		{"replacement TerminatingOrFailed", func(j *Job) { j.Spec.PodReplacementPolicy = ptrTo(TerminatingOrFailedPodReplacement) }},
		{"managedBy", func(j *Job) { j.Spec.ManagedBy = ptrTo("example.com/foo") }},
		{"managedBy the Job controller", func(j *Job) { j.Spec.ManagedBy = ptrTo(JobControllerName) }},
		{"high completions per index", func(j *Job) {
			indexed(j, 100_000)
			j.Spec.Parallelism = ptrTo[int32](100_000)
			j.Spec.MaxFailedIndexes = ptrTo[int32](100_000)
			j.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
		}},
		{"unlimited completions per index", func(j *Job) {
			indexed(j, 1_000_000_000)
			j.Name = "big"
			j.Spec.Parallelism = ptrTo[int32](10_000)
			j.Spec.MaxFailedIndexes = ptrTo[int32](10_000)
			j.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := policyJob()
			c.mutate(j)
			assert.Empty(t, j.Validate())
		})
	}
}

// The problems Kubernetes reports, with its messages.
func TestJobPolicyValidateMessages(t *testing.T) {
	successPolicy := func(completions int32, rules ...SuccessPolicyRule) func(*Job) {
		return func(j *Job) {
			indexed(j, completions)
			j.Spec.SuccessPolicy = &SuccessPolicy{Rules: rules}
		}
	}
	manyValues := make([]int32, 256)
	for i := range manyValues {
		manyValues[i] = int32(i)
	}
	manyRules := make([]PodFailurePolicyRule, 21)
	for i := range manyRules {
		manyRules[i] = exitCodes(PodFailurePolicyActionFailJob, PodFailurePolicyOnExitCodesOpIn, int32(i+1))
	}
	manyPatterns := make([]PodFailurePolicyOnPodConditionsPattern, 21)
	for i := range manyPatterns {
		manyPatterns[i] = PodFailurePolicyOnPodConditionsPattern{Type: PodConditionType(fmt.Sprintf("CustomType_%d", i)), Status: ConditionTrue}
	}
	manySuccessRules := make([]SuccessPolicyRule, 21)
	for i := range manySuccessRules {
		manySuccessRules[i] = SuccessPolicyRule{SucceededCount: ptrTo[int32](5)}
	}
	cases := []struct {
		name   string
		mutate func(*Job)
		want   []string
	}{
		{"managedBy too long", func(j *Job) { j.Spec.ManagedBy = ptrTo("example.com/" + strings.Repeat("x", 60)) },
			[]string{"spec.managedBy: Too long: may not be longer than 63"}},
		{"managedBy not a path", func(j *Job) { j.Spec.ManagedBy = ptrTo("invalid custom controller name") },
			[]string{`spec.managedBy: Invalid value: "invalid custom controller name": must be a domain-prefixed path (such as "acme.io/foo")`}},
		{"success policy of a NonIndexed Job", func(j *Job) { j.Spec.SuccessPolicy = &SuccessPolicy{Rules: []SuccessPolicyRule{}} },
			[]string{`spec.successPolicy: Invalid value: {"rules":[]}: requires indexed completion mode`}},
		{"success policy without rules", successPolicy(5),
			[]string{"spec.successPolicy.rules: Required value: at least one rules must be specified when the successPolicy is specified"}},
		{"success rule empty", successPolicy(5, SuccessPolicyRule{}),
			[]string{"spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified"}},
		{"succeededIndexes malformed", successPolicy(5, SuccessPolicyRule{SucceededIndexes: ptrTo("invalid-format")}),
			[]string{`spec.successPolicy.rules[0].succeededIndexes: Invalid value: "invalid-format": error parsing succeededIndexes: cannot convert string to integer for index: "invalid"`}},
		{"succeededIndexes too long", successPolicy(5, SuccessPolicyRule{SucceededIndexes: ptrTo(strings.Repeat("1", 64*1024+1))}),
			[]string{"spec.successPolicy.rules[0].succeededIndexes: Too long: must have at most 65536 bytes",
				"spec.successPolicy.rules[0].succeededIndexes: Invalid value: \"111*"}},
		{"succeededIndexes too large", successPolicy(5, SuccessPolicyRule{SucceededIndexes: ptrTo("1,5")}),
			[]string{`spec.successPolicy.rules[0].succeededIndexes: Invalid value: "1,5": error parsing succeededIndexes: too large index: "5"`}},
		{"succeededIndexes not increasing", successPolicy(5, SuccessPolicyRule{SucceededIndexes: ptrTo("3,1")}),
			[]string{`spec.successPolicy.rules[0].succeededIndexes: Invalid value: "3,1": error parsing succeededIndexes: non-increasing order, previous: 3, current: 1`}},
		{"succeededCount negative", successPolicy(5, SuccessPolicyRule{SucceededCount: ptrTo[int32](-1)}),
			[]string{"spec.successPolicy.rules[0].succeededCount: Invalid value: -1: must be greater than or equal to 0"}},
		{"succeededCount above completions", successPolicy(5, SuccessPolicyRule{SucceededCount: ptrTo[int32](6)}),
			[]string{"spec.successPolicy.rules[0].succeededCount: Invalid value: 6: must be less than or equal to 5 (the number of specified completions)"}},
		{"succeededCount above its indexes", successPolicy(5, SuccessPolicyRule{SucceededCount: ptrTo[int32](4), SucceededIndexes: ptrTo("0-2")}),
			[]string{"spec.successPolicy.rules[0].succeededCount: Invalid value: 4: must be less than or equal to 3 (the number of indexes in the specified succeededIndexes field)"}},
		{"too many success rules", successPolicy(5, manySuccessRules...),
			[]string{"spec.successPolicy.rules: Too many: 21: must have at most 20 items"}},
		{"rule without requirement", withPodFailurePolicy(PodFailurePolicyRule{Action: PodFailurePolicyActionFailJob}),
			[]string{"spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required"}},
		{"duplicate exit code", withPodFailurePolicy(exitCodes(PodFailurePolicyActionFailJob, PodFailurePolicyOnExitCodesOpIn, 11, 11)),
			[]string{"spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Duplicate value: 11"}},
		{"too many exit codes", withPodFailurePolicy(exitCodes(PodFailurePolicyActionFailJob, PodFailurePolicyOnExitCodesOpIn, manyValues...)),
			[]string{"spec.podFailurePolicy.rules[0].onExitCodes.values: Too many: 256: must have at most 255 items",
				"spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator"}},
		{"too many rules", withPodFailurePolicy(manyRules...),
			[]string{"spec.podFailurePolicy.rules: Too many: 21: must have at most 20 items"}},
		{"too many condition patterns", withPodFailurePolicy(PodFailurePolicyRule{Action: PodFailurePolicyActionFailJob, OnPodConditions: manyPatterns}),
			[]string{"spec.podFailurePolicy.rules[0].onPodConditions: Too many: 21: must have at most 20 items"}},
		{"duplicates", withPodFailurePolicy(exitCodes(PodFailurePolicyActionFailJob, PodFailurePolicyOnExitCodesOpIn, 12, 13, 13, 13)),
			[]string{"spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 13",
				"spec.podFailurePolicy.rules[0].onExitCodes.values[3]: Duplicate value: 13"}},
		{"unordered", withPodFailurePolicy(exitCodes(PodFailurePolicyActionFailJob, PodFailurePolicyOnExitCodesOpIn, 19, 11)),
			[]string{"spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{19, 11}: must be ordered"}},
		{"no exit codes", withPodFailurePolicy(exitCodes(PodFailurePolicyActionFailJob, PodFailurePolicyOnExitCodesOpIn, []int32{}...)),
			[]string{"spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{}: at least one value is required"}},
		{"no action", withPodFailurePolicy(exitCodes("", PodFailurePolicyOnExitCodesOpIn, 1, 2, 3)),
			[]string{`spec.podFailurePolicy.rules[0].action: Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"]`}},
		{"no operator", withPodFailurePolicy(exitCodes(PodFailurePolicyActionFailJob, "", 1, 2, 3)),
			[]string{`spec.podFailurePolicy.rules[0].onExitCodes.operator: Required value: valid values: ["In" "NotIn"]`}},
		{"both requirements", withPodFailurePolicy(PodFailurePolicyRule{
			Action:          PodFailurePolicyActionFailJob,
			OnExitCodes:     &PodFailurePolicyOnExitCodesRequirement{ContainerName: ptrTo("abc"), Operator: PodFailurePolicyOnExitCodesOpIn, Values: []int32{1, 2, 3}},
			OnPodConditions: []PodFailurePolicyOnPodConditionsPattern{{Type: DisruptionTarget, Status: ConditionTrue}},
		}), []string{"spec.podFailurePolicy.rules[0]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported"}},
		{"0 with In", withPodFailurePolicy(exitCodes(PodFailurePolicyActionIgnore, PodFailurePolicyOnExitCodesOpIn, 1, 0, 2)),
			[]string{"spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
				"spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{1, 0, 2}: must be ordered"}},
		{"0 with NotIn", withPodFailurePolicy(exitCodes(PodFailurePolicyActionIgnore, PodFailurePolicyOnExitCodesOpNotIn, 0, 1)), nil},
		{"unknown container", withPodFailurePolicy(
			PodFailurePolicyRule{Action: PodFailurePolicyActionIgnore, OnExitCodes: &PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptrTo("abc"), Operator: PodFailurePolicyOnExitCodesOpIn, Values: []int32{1, 2, 3}}},
			PodFailurePolicyRule{Action: PodFailurePolicyActionFailJob, OnExitCodes: &PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptrTo("xyz"), Operator: PodFailurePolicyOnExitCodesOpIn, Values: []int32{5, 6, 7}}},
		), []string{`spec.podFailurePolicy.rules[1].onExitCodes.containerName: Invalid value: "xyz": must be one of the container or initContainer names in the pod template`}},
		{"unknown action", withPodFailurePolicy(exitCodes("UnknownAction", PodFailurePolicyOnExitCodesOpIn, 1, 2, 3)),
			[]string{`spec.podFailurePolicy.rules[0].action: Unsupported value: "UnknownAction": supported values: "Count", "FailIndex", "FailJob", "Ignore"`}},
		{"unknown operator", withPodFailurePolicy(exitCodes(PodFailurePolicyActionIgnore, "UnknownOperator", 1, 2, 3)),
			[]string{`spec.podFailurePolicy.rules[0].onExitCodes.operator: Unsupported value: "UnknownOperator": supported values: "In", "NotIn"`}},
		{"no condition status", withPodFailurePolicy(onConditions(PodFailurePolicyActionIgnore, DisruptionTarget, "")),
			[]string{`spec.podFailurePolicy.rules[0].onPodConditions[0].status: Required value: valid values: ["False" "True" "Unknown"]`}},
		{"unknown condition status", withPodFailurePolicy(onConditions(PodFailurePolicyActionIgnore, DisruptionTarget, "UnknownStatus")),
			[]string{`spec.podFailurePolicy.rules[0].onPodConditions[0].status: Unsupported value: "UnknownStatus": supported values: "False", "True", "Unknown"`}},
		{"no condition type", withPodFailurePolicy(onConditions(PodFailurePolicyActionIgnore, "", ConditionTrue)),
			[]string{`spec.podFailurePolicy.rules[0].onPodConditions[0].type: Invalid value: "": name part must be non-empty`,
				`spec.podFailurePolicy.rules[0].onPodConditions[0].type: Invalid value: "": name part must consist of alphanumeric characters*`}},
		{"invalid condition type", withPodFailurePolicy(onConditions(PodFailurePolicyActionIgnore, "Invalid Condition Type", ConditionTrue)),
			[]string{`spec.podFailurePolicy.rules[0].onPodConditions[0].type: Invalid value: "Invalid Condition Type": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`}},
		{"TerminatingOrFailed with a pod failure policy", func(j *Job) {
			withPodFailurePolicy(onConditions(PodFailurePolicyActionIgnore, DisruptionTarget, ConditionTrue))(j)
			j.Spec.PodReplacementPolicy = ptrTo(TerminatingOrFailedPodReplacement)
		}, []string{`spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"`}},
		{"empty replacement policy", func(j *Job) { j.Spec.PodReplacementPolicy = ptrTo(PodReplacementPolicy("")) },
			[]string{`spec.podReplacementPolicy: Unsupported value: "": supported values: "Failed", "TerminatingOrFailed"`}},
		{"OnFailure with a pod failure policy", func(j *Job) {
			withPodFailurePolicy(onConditions(PodFailurePolicyActionIgnore, DisruptionTarget, ConditionTrue))(j)
			j.Spec.Template.Spec.RestartPolicy = RestartPolicyOnFailure
		}, []string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
		{"FailIndex without backoffLimitPerIndex", withPodFailurePolicy(exitCodes(PodFailurePolicyActionFailIndex, PodFailurePolicyOnExitCodesOpIn, 10)),
			[]string{`spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set`}},
		{"per-index limits of a NonIndexed Job", func(j *Job) {
			j.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
			j.Spec.MaxFailedIndexes = ptrTo[int32](1)
		}, []string{"spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
			"spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode"}},
		{"maxFailedIndexes alone", func(j *Job) { indexed(j, 10); j.Spec.MaxFailedIndexes = ptrTo[int32](1) },
			[]string{"spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified"}},
		{"negative per-index limits", func(j *Job) {
			indexed(j, 10)
			j.Spec.BackoffLimitPerIndex = ptrTo[int32](-1)
			j.Spec.MaxFailedIndexes = ptrTo[int32](-1)
		}, []string{"spec.backoffLimitPerIndex: Invalid value: -1: must be greater than or equal to 0",
			"spec.maxFailedIndexes: Invalid value: -1: must be greater than or equal to 0"}},
		{"maxFailedIndexes above completions", func(j *Job) {
			indexed(j, 10)
			j.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
			j.Spec.MaxFailedIndexes = ptrTo[int32](11)
		}, []string{"spec.maxFailedIndexes: Invalid value: 11: must be less than or equal to completions"}},
		{"high completions", func(j *Job) {
			indexed(j, 100_001)
			j.Spec.Parallelism = ptrTo[int32](10_001)
			j.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
		}, []string{"spec.maxFailedIndexes: Required value: must be specified when completions is above 100000",
			"spec.parallelism: Invalid value: 10001: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index"}},
		{"high completions, many failed indexes", func(j *Job) {
			indexed(j, 200_000)
			j.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
			j.Spec.MaxFailedIndexes = ptrTo[int32](100_001)
		}, []string{"spec.maxFailedIndexes: Invalid value: 100001: must be less than or equal to 100000",
			"spec.maxFailedIndexes: Invalid value: 100001: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := policyJob()
			j.Name = "myjob"
			c.mutate(j)
			assertFieldErrors(t, c.want, j.Validate())
		})
	}
}

// A CronJob's job template is checked alike.
func TestCronJobTemplatePolicies(t *testing.T) {
	c := newCronJob()
	c.Spec.JobTemplate.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
	c.Default()
	assertFieldErrors(t, []string{"spec.jobTemplate.spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"}, c.Validate())
}

func TestJobPolicyValidateUpdate(t *testing.T) {
	old := policyJob()
	old.UID = "u1"
	indexed(old, 4)
	old.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
	old.Spec.ManagedBy = ptrTo(JobControllerName)
	old.Spec.SuccessPolicy = &SuccessPolicy{Rules: []SuccessPolicyRule{{SucceededCount: ptrTo[int32](2)}}}
	withPodFailurePolicy(exitCodes(PodFailurePolicyActionFailJob, PodFailurePolicyOnExitCodesOpIn, 42))(old)
	old.Default()
	require.Empty(t, old.Validate())
	cases := []struct {
		name   string
		mutate func(*Job)
		want   []string
	}{
		{"podFailurePolicy", func(j *Job) { j.Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values = []int32{43} },
			[]string{`spec.podFailurePolicy: Invalid value: {"rules":[{"action":"FailJob","onExitCodes":{"operator":"In","values":[43]}}]}: field is immutable`}},
		{"backoffLimitPerIndex", func(j *Job) { j.Spec.BackoffLimitPerIndex = ptrTo[int32](2) },
			[]string{"spec.backoffLimitPerIndex: Invalid value: 2: field is immutable"}},
		{"managedBy", func(j *Job) { j.Spec.ManagedBy = ptrTo("example.com/other") },
			[]string{`spec.managedBy: Invalid value: "example.com/other": field is immutable`}},
		{"successPolicy", func(j *Job) { j.Spec.SuccessPolicy = nil },
			[]string{"spec.successPolicy: Invalid value: null: field is immutable"}},
		{"maxFailedIndexes may change", func(j *Job) { j.Spec.MaxFailedIndexes = ptrTo[int32](1) }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := old.DeepCopy()
			c.mutate(j)
			assertFieldErrors(t, c.want, j.ValidateUpdate(old))
		})
	}
}

func TestJobPolicyManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: batch/v1
kind: Job
metadata:
  name: shards
  namespace: default
spec:
  completions: 8
  parallelism: 4
  completionMode: Indexed
  backoffLimitPerIndex: 2
  maxFailedIndexes: 3
  podReplacementPolicy: Failed
  managedBy: kubernetes.io/job-controller
  successPolicy:
    rules:
    - succeededIndexes: "0,2-3"
      succeededCount: 2
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes:
        containerName: main
        operator: In
        values: [42]
    - action: FailIndex
      onExitCodes:
        operator: NotIn
        values: [0, 1]
    - action: Ignore
      onPodConditions:
      - type: DisruptionTarget
        status: "True"
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: docker.io/library/bash:5
status:
  failedIndexes: "1,5"
  completedIndexes: "0,2-4"
  terminating: 1
`)
	j := obj.(*Job)
	require.NoError(t, validateThroughScheme(j))
	assert.Equal(t, PodFailurePolicyActionFailIndex, j.Spec.PodFailurePolicy.Rules[1].Action)
	assert.Equal(t, "1,5", *j.Status.FailedIndexes)
	assert.Equal(t, int32(1), *j.Status.Terminating)
	jsonRoundTrip(t, j)

	// A field podkit does not know is still refused, by name.
	_, err := NewScheme().DecodeBytes([]byte(`
apiVersion: batch/v1
kind: Job
metadata: {name: x}
spec:
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {operator: In, values: [1], exitCodeRange: "1-5"}
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: bash}]
`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exitCodeRange")
}

func TestJobStatusTerminating(t *testing.T) {
	j := newJob()
	j.Status.Terminating = ptrTo[int32](-1)
	assertFieldErrors(t, []string{"status.terminating: Invalid value: -1: must be greater than or equal to 0"}, j.ValidateStatusUpdate(newJob()))
}

func TestValidateIndexesFormat(t *testing.T) {
	for _, c := range []struct {
		in      string
		total   int32
		wantErr string
	}{
		{"", 0, ""},
		{"0", 1, ""},
		{"1,3-5,7", 5, ""},
		{"0,1", 2, ""},
		{"1-1", 0, "non-increasing order, previous: 1, current: 1"},
		{"3,2", 0, "non-increasing order, previous: 3, current: 2"},
		{"1-3,3", 0, "non-increasing order, previous: 3, current: 3"},
		{"8", 0, `too large index: "8"`},
		{"1-8", 0, `too large index: "8"`},
		{"1-2-3", 0, `the fragment "1-2-3" violates the requirement that an index interval can have at most two parts separated by '-'`},
		{"a", 0, `cannot convert string to integer for index: "a"`},
	} {
		total, err := ValidateIndexesFormat(c.in, 8)
		if c.wantErr != "" {
			assert.EqualError(t, err, c.wantErr, c.in)
			continue
		}
		assert.NoError(t, err, c.in)
		assert.Equal(t, c.total, total, c.in)
	}
}
