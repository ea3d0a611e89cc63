package objects

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvent(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	e := &Event{
		ObjectMeta:          ObjectMeta{Name: "web-1.17c", Namespace: "default"},
		InvolvedObject:      ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1", UID: "u1", APIVersion: "v1", FieldPath: "spec.containers{app}"},
		Reason:              "BackOff",
		Message:             "Back-off restarting failed container",
		Source:              EventSource{Component: "kubelet", Host: "n1"},
		FirstTimestamp:      NewTime(now),
		LastTimestamp:       NewTime(now),
		Count:               3,
		Type:                EventTypeWarning,
		EventTime:           NewMicroTime(now),
		ReportingController: "kubelet",
		ReportingInstance:   "n1",
	}
	assert.Empty(t, e.Validate())

	objs, err := NewScheme().DecodeBytes([]byte(`{"apiVersion":"v1","kind":"Event","metadata":{"name":"n1.1","namespace":"default"},
"involvedObject":{"kind":"Node","name":"n1"},"reason":"NodeReady","type":"Normal","count":1,
"source":{"component":"node-controller"},"firstTimestamp":"2024-05-01T10:00:00Z","lastTimestamp":"2024-05-01T10:00:00Z",
"eventTime":"2024-05-01T10:00:00.123456Z","reportingComponent":"podkit","reportingInstance":"h1","action":"Ready",
"related":{"kind":"Pod","name":"x","namespace":"default"}}`))
	require.NoError(t, err)
	ev := objs[0].(*Event)
	assert.Equal(t, "podkit", ev.ReportingController)
	assert.Equal(t, 123456000, ev.EventTime.Nanosecond())
	assert.Empty(t, ev.Validate(), "events about cluster-scoped objects live in default")

	bad := e.DeepCopy()
	bad.InvolvedObject.Namespace = "other"
	bad.Type = "Error"
	bad.Count = -1
	assertFieldErrors(t, []string{
		`involvedObject.namespace: Invalid value: "other": does not match event.namespace`,
		`type: Unsupported value: "Error": supported values: "Normal", "Warning"`,
		"count: Invalid value: -1: must be greater than or equal to 0",
	}, bad.Validate())
}
