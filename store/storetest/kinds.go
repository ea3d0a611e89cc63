package storetest

import (
	"slices"

	"github.com/podkit/podkit/objects"
)

// The suite's own kinds, registered in a fresh scheme for every test, show
// that a store holds any registered kind, not only the built-in ones:
// widget is namespaced with spec and status, rack is cluster-scoped with a
// spec and no status, and note has neither spec nor status (like a
// ConfigMap).

type widget struct {
	objects.TypeMeta   `json:",inline"`
	objects.ObjectMeta `json:"metadata,omitempty"`

	Spec   widgetSpec   `json:"spec,omitempty"`
	Status widgetStatus `json:"status,omitempty"`
}

type widgetSpec struct {
	// Owner is filled from the uid on create (see PrepareForCreate).
	Owner string   `json:"owner,omitempty"`
	Color string   `json:"color,omitempty"`
	Size  int      `json:"size,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

type widgetStatus struct {
	Ready bool     `json:"ready,omitempty"`
	Count int      `json:"count,omitempty"`
	Notes []string `json:"notes,omitempty"`
}

func (w *widget) DeepCopyObject() objects.Object {
	c := *w
	w.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	c.Spec.Tags = slices.Clone(w.Spec.Tags)
	c.Status.Notes = slices.Clone(w.Status.Notes)
	return &c
}

// PrepareForCreate completes a widget once the store has given it a uid, as
// a Job generates its selector.
func (w *widget) PrepareForCreate() {
	if w.Spec.Owner == "" {
		w.Spec.Owner = "uid=" + w.UID
	}
}

type rack struct {
	objects.TypeMeta   `json:",inline"`
	objects.ObjectMeta `json:"metadata,omitempty"`

	Spec rackSpec `json:"spec,omitempty"`
}

type rackSpec struct {
	Slots int `json:"slots,omitempty"`
}

func (r *rack) DeepCopyObject() objects.Object {
	c := *r
	r.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

type note struct {
	objects.TypeMeta   `json:",inline"`
	objects.ObjectMeta `json:"metadata,omitempty"`

	Text string `json:"text,omitempty"`
}

func (n *note) DeepCopyObject() objects.Object {
	c := *n
	n.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

// stranger is never registered.
type stranger struct {
	objects.TypeMeta
	objects.ObjectMeta
}

func (s *stranger) DeepCopyObject() objects.Object {
	c := *s
	s.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

const (
	kindWidget    = "Widget"
	kindRack      = "Rack"
	kindNote      = "Note"
	kindPod       = "Pod"
	kindConfigMap = "ConfigMap"
	groupVersion  = "example.com/v1"

	// fieldColor is the host's own field index the suite asks for.
	fieldColor = "spec.color"
)

func newScheme() *objects.Scheme {
	s := objects.NewScheme()
	for _, k := range []objects.KindInfo{
		{APIVersion: groupVersion, Kind: kindWidget, Namespaced: true, New: func() objects.Object { return &widget{} }},
		{APIVersion: groupVersion, Kind: kindRack, Namespaced: false, New: func() objects.Object { return &rack{} }},
		{APIVersion: groupVersion, Kind: kindNote, Namespaced: true, New: func() objects.Object { return &note{} }},
	} {
		if err := s.Register(k); err != nil {
			panic(err)
		}
	}
	return s
}

func widgetColor(obj objects.Object) []string {
	if w, ok := obj.(*widget); ok {
		return []string{w.Spec.Color}
	}
	return nil
}

func newWidget(ns, name string, labels map[string]string, color string) *widget {
	return &widget{ObjectMeta: objects.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: widgetSpec{Color: color}}
}

func newPod(ns, name, node string) *objects.Pod {
	return &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Namespace: ns, Name: name},
		Spec: objects.PodSpec{
			NodeName:   node,
			Containers: []objects.Container{{Name: "app", Image: "example.com/app:1"}},
		},
	}
}
