package objects

// Event records something that happened to an object (core v1 Event):
// "Scheduled", "Pulled", "BackOff"... with a count when it repeats.
type Event struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	InvolvedObject      ObjectReference  `json:"involvedObject"`
	Reason              string           `json:"reason,omitempty"`
	Message             string           `json:"message,omitempty"`
	Source              EventSource      `json:"source,omitempty"`
	FirstTimestamp      Time             `json:"firstTimestamp,omitempty"`
	LastTimestamp       Time             `json:"lastTimestamp,omitempty"`
	Count               int32            `json:"count,omitempty"`
	Type                string           `json:"type,omitempty"`
	EventTime           MicroTime        `json:"eventTime,omitempty"`
	Series              *EventSeries     `json:"series,omitempty"`
	Action              string           `json:"action,omitempty"`
	Related             *ObjectReference `json:"related,omitempty"`
	ReportingController string           `json:"reportingComponent"`
	ReportingInstance   string           `json:"reportingInstance"`
}

// DeepCopyObject implements Object.
func (e *Event) DeepCopyObject() Object { return e.DeepCopy() }

// Event types.
const (
	EventTypeNormal  = "Normal"
	EventTypeWarning = "Warning"
)

// EventSource names the component (and host) that reported an event.
type EventSource struct {
	Component string `json:"component,omitempty"`
	Host      string `json:"host,omitempty"`
}

// EventSeries summarises repeats of an event.
type EventSeries struct {
	Count            int32     `json:"count,omitempty"`
	LastObservedTime MicroTime `json:"lastObservedTime,omitempty"`
}

// Validate implements Validator, as Kubernetes validates core v1 events:
// the involved object's namespace matches the event's (events about
// cluster-scoped objects live in "default"), and the type is Normal or
// Warning.
func (e *Event) Validate() ErrorList {
	var errs ErrorList
	np := NewPath("involvedObject", "namespace")
	if e.InvolvedObject.Namespace == "" {
		if e.Namespace != "" && e.Namespace != "default" {
			errs = append(errs, Invalid(np, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	} else if e.Namespace != e.InvolvedObject.Namespace {
		errs = append(errs, Invalid(np, e.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	if e.Type != "" && e.Type != EventTypeNormal && e.Type != EventTypeWarning {
		errs = append(errs, NotSupported(NewPath("type"), e.Type, []string{EventTypeNormal, EventTypeWarning}))
	}
	if e.Count < 0 {
		errs = append(errs, Invalid(NewPath("count"), e.Count, "must be greater than or equal to 0"))
	}
	if len(e.Reason) > 128 {
		errs = append(errs, Invalid(NewPath("reason"), e.Reason, "can have at most 128 characters"))
	}
	if len(e.Message) > 4096 {
		errs = append(errs, Invalid(NewPath("message"), "", "can have at most 4096 characters"))
	}
	return errs
}
