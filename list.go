package podkit

import (
	"context"
	"fmt"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// ListOption narrows List, Watch and their typed forms.
type ListOption func(*listOptions) error

type listOptions struct {
	store.ListOptions
	revision int64
}

// InNamespace limits the result to one namespace.
func InNamespace(ns string) ListOption {
	return func(o *listOptions) error { o.Namespace = ns; return nil }
}

// WithLabels selects by a label selector in its string form,
// "app=web,tier!=db,env in (a,b),!legacy".
func WithLabels(selector string) ListOption {
	return func(o *listOptions) error {
		s, err := objects.ParseSelector(selector)
		if err != nil {
			return fmt.Errorf("label selector %q: %w", selector, err)
		}
		o.Labels = s
		return nil
	}
}

// WithSelector selects by a compiled label selector.
func WithSelector(s objects.Selector) ListOption {
	return func(o *listOptions) error { o.Labels = s; return nil }
}

// WithField requires an indexed field to have a value, as
// WithField("spec.nodeName", "n1") for pods.
func WithField(field, value string) ListOption {
	return func(o *listOptions) error {
		if o.Fields == nil {
			o.Fields = map[string]string{}
		}
		o.Fields[field] = value
		return nil
	}
}

// FromRevision makes a Watch deliver the changes committed after rev.
func FromRevision(rev int64) ListOption {
	return func(o *listOptions) error { o.revision = rev; return nil }
}

func buildListOptions(opts []ListOption) (listOptions, error) {
	var lo listOptions
	for _, opt := range opts {
		if err := opt(&lo); err != nil {
			return lo, err
		}
	}
	return lo, nil
}

// Get returns the object of type T in namespace (empty for cluster-scoped
// kinds) with name.
func Get[T objects.Object](ctx context.Context, o *Orchestrator, namespace, name string) (T, error) {
	var zero T
	info, err := objects.KindFor[T](o.scheme)
	if err != nil {
		return zero, err
	}
	obj := info.New()
	if err := o.Get(ctx, objects.Key{Namespace: namespace, Name: name}, obj); err != nil {
		return zero, err
	}
	return obj.(T), nil
}

// List returns the objects of type T in namespace (every namespace when
// empty) that match opts.
func List[T objects.Object](ctx context.Context, o *Orchestrator, namespace string, opts ...ListOption) ([]T, error) {
	info, err := objects.KindFor[T](o.scheme)
	if err != nil {
		return nil, err
	}
	objs, err := o.List(ctx, info.Kind, append([]ListOption{InNamespace(namespace)}, opts...)...)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(objs))
	for i, obj := range objs {
		out[i] = obj.(T)
	}
	return out, nil
}
