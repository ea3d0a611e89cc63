package main

import (
	"fmt"

	"github.com/podkit/podkit/objects"
)

// Website is the host platform's own kind, apiVersion example.com/v1: a web
// site served by spec.replicas pods running spec.image.
type Website struct {
	objects.TypeMeta   `json:",inline"`
	objects.ObjectMeta `json:"metadata,omitempty"`
	Spec               WebsiteSpec   `json:"spec,omitempty"`
	Status             WebsiteStatus `json:"status,omitempty"`
}

// WebsiteSpec is what the user asks for.
type WebsiteSpec struct {
	Image    string `json:"image"`
	Replicas int32  `json:"replicas"`
}

// WebsiteStatus is what the controller observed.
type WebsiteStatus struct {
	AvailableReplicas int32 `json:"availableReplicas"`
}

// DeepCopyObject implements objects.Object. Spec and Status hold no
// pointers, maps or slices, so copying the struct copies them.
func (w *Website) DeepCopyObject() objects.Object {
	c := *w
	w.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

// Validate implements objects.Validator: a Website is checked at the door
// like a built-in kind.
func (w *Website) Validate() objects.ErrorList {
	var errs objects.ErrorList
	if w.Spec.Image == "" {
		errs = append(errs, objects.Required(objects.NewPath("spec", "image"), ""))
	}
	if w.Spec.Replicas < 0 {
		errs = append(errs, objects.Invalid(objects.NewPath("spec", "replicas"), w.Spec.Replicas, "must be greater than or equal to 0"))
	}
	return errs
}

// newScheme returns the built-in kinds plus Website. Each orchestrator gets
// its own scheme: nothing is registered globally.
func newScheme() (*objects.Scheme, error) {
	s := objects.NewScheme()
	err := s.Register(objects.KindInfo{APIVersion: "example.com/v1", Kind: "Website", Namespaced: true,
		New: func() objects.Object { return &Website{} }})
	if err != nil {
		return nil, fmt.Errorf("register Website: %w", err)
	}
	return s, nil
}
