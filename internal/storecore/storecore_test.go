package storecore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
)

func TestPlural(t *testing.T) {
	for kind, want := range map[string]string{
		"Pod":                     "pods",
		"Endpoints":               "endpoints",
		"Ingress":                 "ingresses",
		"IngressClass":            "ingressclasses",
		"PriorityClass":           "priorityclasses",
		"StorageClass":            "storageclasses",
		"Lease":                   "leases",
		"Namespace":               "namespaces",
		"HorizontalPodAutoscaler": "horizontalpodautoscalers",
		"NetworkPolicy":           "networkpolicies",
		"Gateway":                 "gateways",
		"Box":                     "boxes",
		"Batch":                   "batches",
		"Mesh":                    "meshes",
		"PersistentVolumeClaim":   "persistentvolumeclaims",
		"Event":                   "events",
		"ConfigMap":               "configmaps",
	} {
		require.Equal(t, want, Plural(kind), kind)
	}
}

func TestResource(t *testing.T) {
	s := objects.NewScheme()
	for kind, want := range map[string]string{
		"Pod":        "pods",
		"ConfigMap":  "configmaps",
		"Deployment": "deployments.apps",
		"Ingress":    "ingresses.networking.k8s.io",
	} {
		info := s.Lookup(kind)
		if info == nil {
			t.Skipf("%s not registered yet", kind)
		}
		require.Equal(t, want, Resource(info), kind)
	}
}

func TestExactLabels(t *testing.T) {
	for sel, want := range map[string][]Label{
		"":                                      nil,
		"app=web":                               {{"app", "web"}},
		"app==web":                              {{"app", "web"}},
		"app in (web)":                          {{"app", "web"}},
		"app in (web,db)":                       nil,
		"app!=web":                              nil,
		"!app":                                  nil,
		"app":                                   nil,
		"tier=fe,app=web":                       {{"app", "web"}, {"tier", "fe"}},
		"env in (a,b),example.com/x=y":          {{"example.com/x", "y"}},
		"app notin (web),pod-template-hash=abc": {{"pod-template-hash", "abc"}},
	} {
		s, err := objects.ParseSelector(sel)
		require.NoError(t, err, sel)
		require.Equal(t, want, ExactLabels(s), sel)
	}
	require.Nil(t, ExactLabels(nil))
	require.Nil(t, ExactLabels(objects.Nothing()))
}
