package objects

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateContainerRestartRules(t *testing.T) {
	pol := func(p ContainerRestartPolicy) *ContainerRestartPolicy { return &p }
	rule := func(action ContainerRestartRuleAction, op ContainerRestartRuleOnExitCodesOperator, codes ...int32) ContainerRestartRule {
		return ContainerRestartRule{Action: action, ExitCodes: &ContainerRestartRuleOnExitCodes{Operator: op, Values: codes}}
	}
	retry := rule(ContainerRestartRuleActionRestart, ContainerRestartRuleOnExitCodesOpIn, 42)
	cases := []podCase{
		{"policies and rules on a container", func(p *Pod) {
			p.Spec.RestartPolicy = RestartPolicyNever
			p.Spec.Containers[0].RestartPolicy = pol(ContainerRestartPolicyNever)
			p.Spec.Containers[0].RestartPolicyRules = []ContainerRestartRule{retry,
				rule(ContainerRestartRuleActionRestart, ContainerRestartRuleOnExitCodesOpNotIn, 0, 1)}
		}, nil},
		{"a policy on an init container", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox", RestartPolicy: pol(ContainerRestartPolicyOnFailure),
				RestartPolicyRules: []ContainerRestartRule{retry}}}
		}, nil},
		{"rules without a policy", func(p *Pod) {
			p.Spec.Containers[0].RestartPolicyRules = []ContainerRestartRule{retry}
		}, []string{"spec.containers[0].restartPolicy: Required value: must specify restartPolicy when restart rules are used"}},
		{"a RestartAllContainers rule on a sidecar", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "proxy", Image: "envoy", RestartPolicy: pol(ContainerRestartPolicyAlways),
				RestartPolicyRules: []ContainerRestartRule{rule(ContainerRestartRuleActionRestartAllContainers, ContainerRestartRuleOnExitCodesOpIn, 88)}}}
		}, nil},
		{"bad policy, action, operator, no exit codes", func(p *Pod) {
			p.Spec.Containers[0].RestartPolicy = pol("Sometimes")
			p.Spec.Containers[0].RestartPolicyRules = []ContainerRestartRule{
				rule("RestartPod", "Between", 1), {Action: ContainerRestartRuleActionRestart}}
		}, []string{
			`spec.containers[0].restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"`,
			`spec.containers[0].restartPolicyRules[0].action: Unsupported value: "RestartPod": supported values: "Restart", "RestartAllContainers"`,
			`spec.containers[0].restartPolicyRules[0].exitCodes.operator: Unsupported value: "Between": supported values: "In", "NotIn"`,
			"spec.containers[0].restartPolicyRules[1].exitCodes: Required value: must be specified",
		}},
		{"too many rules and codes", func(p *Pod) {
			p.Spec.Containers[0].RestartPolicy = pol(ContainerRestartPolicyNever)
			codes := make([]int32, 256)
			p.Spec.Containers[0].RestartPolicyRules = make([]ContainerRestartRule, 21)
			for i := range p.Spec.Containers[0].RestartPolicyRules {
				p.Spec.Containers[0].RestartPolicyRules[i] = retry
			}
			p.Spec.Containers[0].RestartPolicyRules[3] = rule(ContainerRestartRuleActionRestart, ContainerRestartRuleOnExitCodesOpIn, codes...)
		}, []string{
			"spec.containers[0].restartPolicyRules: Too many: 21: must have at most 20 items",
			"spec.containers[0].restartPolicyRules[3].exitCodes.values: Too many: 256: must have at most 255 items",
		}},
	}
	runPodCases(t, cases)
}

func TestContainerRestarts(t *testing.T) {
	pol := func(p ContainerRestartPolicy) *ContainerRestartPolicy { return &p }
	retry42 := []ContainerRestartRule{{Action: ContainerRestartRuleActionRestart,
		ExitCodes: &ContainerRestartRuleOnExitCodes{Operator: ContainerRestartRuleOnExitCodesOpIn, Values: []int32{42}}}}
	all88 := []ContainerRestartRule{{Action: ContainerRestartRuleActionRestartAllContainers,
		ExitCodes: &ContainerRestartRuleOnExitCodes{Operator: ContainerRestartRuleOnExitCodesOpIn, Values: []int32{88}}}}
	notZero := []ContainerRestartRule{{Action: ContainerRestartRuleActionRestart,
		ExitCodes: &ContainerRestartRuleOnExitCodes{Operator: ContainerRestartRuleOnExitCodesOpNotIn, Values: []int32{0}}}}
	cases := []struct {
		name string
		c    Container
		pod  RestartPolicy
		code int32
		want bool
	}{
		{"pod Always", Container{}, RestartPolicyAlways, 0, true},
		{"pod OnFailure, success", Container{}, RestartPolicyOnFailure, 0, false},
		{"pod OnFailure, failure", Container{}, RestartPolicyOnFailure, 1, true},
		{"pod Never", Container{}, RestartPolicyNever, 1, false},
		{"container Never in an Always pod", Container{RestartPolicy: pol(ContainerRestartPolicyNever)}, RestartPolicyAlways, 1, false},
		{"container Always in a Never pod", Container{RestartPolicy: pol(ContainerRestartPolicyAlways)}, RestartPolicyNever, 0, true},
		{"container OnFailure, success", Container{RestartPolicy: pol(ContainerRestartPolicyOnFailure)}, RestartPolicyAlways, 0, false},
		{"rule matches", Container{RestartPolicy: pol(ContainerRestartPolicyNever), RestartPolicyRules: retry42}, RestartPolicyNever, 42, true},
		{"rule does not match: the container's policy", Container{RestartPolicy: pol(ContainerRestartPolicyNever), RestartPolicyRules: retry42}, RestartPolicyAlways, 41, false},
		{"NotIn", Container{RestartPolicy: pol(ContainerRestartPolicyNever), RestartPolicyRules: notZero}, RestartPolicyNever, 3, true},
		{"NotIn, excluded code", Container{RestartPolicy: pol(ContainerRestartPolicyNever), RestartPolicyRules: notZero}, RestartPolicyNever, 0, false},
		{"RestartAllContainers", Container{RestartPolicy: pol(ContainerRestartPolicyNever), RestartPolicyRules: all88}, RestartPolicyNever, 88, true},
		{"the first matching rule decides", Container{RestartPolicy: pol(ContainerRestartPolicyNever), RestartPolicyRules: append(slices.Clone(all88), retry42...)}, RestartPolicyNever, 42, true},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.c.Restarts(tc.pod, tc.code), tc.name)
	}
	c := Container{RestartPolicy: pol(ContainerRestartPolicyNever), RestartPolicyRules: append(slices.Clone(retry42), all88...)}
	assert.True(t, c.RestartsAll(88))
	assert.False(t, c.RestartsAll(42), "a Restart rule restarts the container alone")
	assert.False(t, c.RestartsAll(1))
	assert.True(t, (&PodSpec{InitContainers: []Container{c}}).RestartsAllOnSomeExit())
	assert.False(t, (&PodSpec{Containers: []Container{{RestartPolicyRules: retry42}}}).RestartsAllOnSomeExit())
}

func TestContainerRestartRulesFromManifest(t *testing.T) {
	objs, err := DecodeYAML(strings.NewReader(`apiVersion: v1
kind: Pod
metadata: {name: trainer}
spec:
  restartPolicy: Never
  containers:
  - name: worker
    image: trainer
    restartPolicy: Never
    restartPolicyRules:
    - action: Restart
      exitCodes:
        operator: In
        values: [42]
  initContainers:
  - name: watcher
    image: watcher
    restartPolicy: Always
    restartPolicyRules:
    - action: RestartAllContainers
      exitCodes:
        operator: In
        values: [88]
`))
	require.NoError(t, err)
	p := objs[0].(*Pod)
	p.Default()
	assertFieldErrors(t, nil, p.Validate())
	c := &p.Spec.Containers[0]
	assert.True(t, c.Restarts(p.Spec.RestartPolicy, 42))
	assert.False(t, c.Restarts(p.Spec.RestartPolicy, 1))
	assert.True(t, p.Spec.InitContainers[0].RestartsAll(88))
}
