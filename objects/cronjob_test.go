package objects

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // time zone validation must not depend on the host's zoneinfo

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newCronJob() *CronJob {
	return &CronJob{
		ObjectMeta: ObjectMeta{Name: "hello", Namespace: "default"},
		Spec: CronJobSpec{
			Schedule:    "*/5 * * * *",
			JobTemplate: JobTemplateSpec{Spec: newJob().Spec},
		},
	}
}

func TestCronJobDefault(t *testing.T) {
	c := newCronJob()
	c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = ""
	c.Default()
	assert.Equal(t, AllowConcurrent, c.Spec.ConcurrencyPolicy)
	assert.False(t, *c.Spec.Suspend)
	assert.Equal(t, int32(3), *c.Spec.SuccessfulJobsHistoryLimit)
	assert.Equal(t, int32(1), *c.Spec.FailedJobsHistoryLimit)
	assert.Equal(t, RestartPolicyAlways, c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy, "pod spec defaulted")
	assert.Nil(t, c.Spec.JobTemplate.Spec.BackoffLimit, "job defaults apply when each Job is created")

	c = newCronJob()
	c.Spec.ConcurrencyPolicy = ForbidConcurrent
	c.Spec.SuccessfulJobsHistoryLimit = ptrTo[int32](0)
	c.Default()
	assert.Equal(t, ForbidConcurrent, c.Spec.ConcurrencyPolicy)
	assert.Equal(t, int32(0), *c.Spec.SuccessfulJobsHistoryLimit)
}

func TestCronJobValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*CronJob)
		want   []string
	}{
		{"valid", func(*CronJob) {}, nil},
		{"valid descriptor", func(c *CronJob) { c.Spec.Schedule = "@hourly" }, nil},
		{"valid every", func(c *CronJob) { c.Spec.Schedule = "@every 1h30m" }, nil},
		{"valid time zone", func(c *CronJob) { c.Spec.TimeZone = ptrTo("Europe/Paris") }, nil},
		{"valid ranges and names", func(c *CronJob) { c.Spec.Schedule = "0 9-17/2 * JAN-MAR MON-FRI" }, nil},
		{"no schedule", func(c *CronJob) { c.Spec.Schedule = "" }, []string{"spec.schedule: Required value"}},
		{"six fields", func(c *CronJob) { c.Spec.Schedule = "0 */5 * * * *" }, []string{"spec.schedule: Invalid value"}},
		{"out of range", func(c *CronJob) { c.Spec.Schedule = "61 * * * *" }, []string{"spec.schedule: Invalid value"}},
		{"TZ in schedule", func(c *CronJob) { c.Spec.Schedule = "TZ=UTC 0 * * * *" }, []string{"spec.schedule: Invalid value"}},
		{"empty time zone", func(c *CronJob) { c.Spec.TimeZone = ptrTo("") }, []string{"spec.timeZone: Invalid value"}},
		{"unknown time zone", func(c *CronJob) { c.Spec.TimeZone = ptrTo("Mars/Olympus") }, []string{"spec.timeZone: Invalid value"}},
		{"bad time zone characters", func(c *CronJob) { c.Spec.TimeZone = ptrTo("../etc/passwd") }, []string{"spec.timeZone: Invalid value"}},
		{"Local time zone", func(c *CronJob) { c.Spec.TimeZone = ptrTo("Local") }, []string{"spec.timeZone: Invalid value"}},
		{"negative deadline", func(c *CronJob) { c.Spec.StartingDeadlineSeconds = ptrTo[int64](-1) },
			[]string{"spec.startingDeadlineSeconds: Invalid value"}},
		{"concurrency unset", func(c *CronJob) { c.Spec.ConcurrencyPolicy = "" }, []string{"spec.concurrencyPolicy: Required value"}},
		{"concurrency unknown", func(c *CronJob) { c.Spec.ConcurrencyPolicy = "Queue" }, []string{"spec.concurrencyPolicy: Unsupported value"}},
		{"negative history", func(c *CronJob) {
			c.Spec.SuccessfulJobsHistoryLimit = ptrTo[int32](-1)
			c.Spec.FailedJobsHistoryLimit = ptrTo[int32](-1)
		}, []string{"spec.successfulJobsHistoryLimit: Invalid value", "spec.failedJobsHistoryLimit: Invalid value"}},
		{"job template restartPolicy", func(c *CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = RestartPolicyAlways },
			[]string{"spec.jobTemplate.spec.template.spec.restartPolicy: Required value"}},
		{"job template selector", func(c *CronJob) { c.Spec.JobTemplate.Spec.Selector = webSelector() },
			[]string{"spec.jobTemplate.spec.selector: Invalid value"}},
		{"job template manualSelector", func(c *CronJob) { c.Spec.JobTemplate.Spec.ManualSelector = ptrTo(true) },
			[]string{"spec.jobTemplate.spec.manualSelector: Unsupported value"}},
		{"job template labels", func(c *CronJob) { c.Spec.JobTemplate.Labels = map[string]string{"-bad": "x"} },
			[]string{"spec.jobTemplate.metadata.labels: Invalid value"}},
		{"name too long", func(c *CronJob) { c.Name = strings.Repeat("c", 53) }, []string{"metadata.name: Invalid value"}},
		{"generated name too long", func(c *CronJob) { c.Name, c.GenerateName = "", strings.Repeat("c", 48) },
			[]string{"metadata.generateName: Invalid value"}},
		{"generated name long enough", func(c *CronJob) { c.Name, c.GenerateName = "", strings.Repeat("c", 47) }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cj := newCronJob()
			cj.Default()
			c.mutate(cj)
			assert.Equal(t, c.want, errorSummary(cj.Validate()))
		})
	}
}

func TestCronJobValidateMessages(t *testing.T) {
	c := newCronJob()
	c.Default()
	c.Spec.Schedule = "0 */5 * * * *"
	c.Spec.ConcurrencyPolicy = "Queue"
	var got []string
	for _, e := range c.Validate() {
		got = append(got, e.Error())
	}
	assert.Equal(t, []string{
		`spec.schedule: Invalid value: "0 */5 * * * *": expected exactly 5 fields, found 6: [0 */5 * * * *]`,
		`spec.concurrencyPolicy: Unsupported value: "Queue": supported values: "Allow", "Forbid", "Replace"`,
	}, got)
}

func TestParseCronSchedule(t *testing.T) {
	s, err := ParseCronSchedule("30 2 * * *")
	require.NoError(t, err)
	from := time.Date(2024, 5, 1, 3, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Date(2024, 5, 2, 2, 30, 0, 0, time.UTC), s.Next(from))
}

func TestCronJobManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
  namespace: default
spec:
  schedule: "0 3 * * *"
  timeZone: Etc/UTC
  startingDeadlineSeconds: 200
  concurrencyPolicy: Forbid
  suspend: true
  successfulJobsHistoryLimit: 5
  failedJobsHistoryLimit: 2
  jobTemplate:
    metadata:
      labels: {app: hello}
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: hello
            image: busybox:1.36
            command: [/bin/sh, -c, date; echo Hello]
status:
  active:
  - {apiVersion: batch/v1, kind: Job, name: hello-28599300, namespace: default, uid: 8d6c}
  lastScheduleTime: "2024-05-01T03:00:00Z"
  lastSuccessfulTime: "2024-04-30T03:00:10Z"
`)
	c := obj.(*CronJob)
	assert.Equal(t, "Etc/UTC", *c.Spec.TimeZone)
	assert.Equal(t, "hello-28599300", c.Status.Active[0].Name)
	require.NoError(t, validateThroughScheme(c))
	jsonRoundTrip(t, c)
}
