package objects

import (
	"fmt"
	"sort"
	"strings"
)

// Manifests may still write an autoscaler as autoscaling/v1, a version
// Kubernetes serves beside autoscaling/v2: one CPU utilization target.
// Decoding converts it to autoscaling/v2, as the API server does, and the
// object is stored, read and watched as autoscaling/v2 from then on.

// hpaV1 is an autoscaling/v1 HorizontalPodAutoscaler.
//
// +kubebuilder:object:generate=false
type hpaV1 struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   hpaV1Spec   `json:"spec,omitempty"`
	Status hpaV1Status `json:"status,omitempty"`
}

// +kubebuilder:object:generate=false
type hpaV1Spec struct {
	ScaleTargetRef                 CrossVersionObjectReference `json:"scaleTargetRef"`
	MinReplicas                    *int32                      `json:"minReplicas,omitempty"`
	MaxReplicas                    int32                       `json:"maxReplicas"`
	TargetCPUUtilizationPercentage *int32                      `json:"targetCPUUtilizationPercentage,omitempty"`
}

// +kubebuilder:object:generate=false
type hpaV1Status struct {
	ObservedGeneration              *int64 `json:"observedGeneration,omitempty"`
	LastScaleTime                   *Time  `json:"lastScaleTime,omitempty"`
	CurrentReplicas                 int32  `json:"currentReplicas"`
	DesiredReplicas                 int32  `json:"desiredReplicas"`
	CurrentCPUUtilizationPercentage *int32 `json:"currentCPUUtilizationPercentage,omitempty"`
}

// hpaV1Annotations are where autoscaling/v1 objects read from a cluster
// keep what only autoscaling/v2 can say. They hold another version's
// shapes, which podkit does not read: such an object is refused, so that
// none of it is dropped.
var hpaV1Annotations = []string{
	"autoscaling.alpha.kubernetes.io/metrics",
	"autoscaling.alpha.kubernetes.io/current-metrics",
	"autoscaling.alpha.kubernetes.io/conditions",
	"autoscaling.alpha.kubernetes.io/behavior",
}

// decodeHPAv1 decodes an autoscaling/v1 autoscaler and converts it.
func decodeHPAv1(doc []byte) (Object, error) {
	var v1 hpaV1
	if err := strictDecode(doc, &v1); err != nil {
		return nil, err
	}
	var carried []string
	for _, a := range hpaV1Annotations {
		if _, ok := v1.Annotations[a]; ok {
			carried = append(carried, a)
		}
	}
	if len(carried) > 0 {
		sort.Strings(carried)
		return nil, fmt.Errorf("metadata.annotations[%s]: Unsupported value: what it holds must be written as autoscaling/v2 fields (apiVersion: autoscaling/v2)", strings.Join(carried, ", "))
	}
	return v1.toV2(), nil
}

func (h *hpaV1) toV2() *HorizontalPodAutoscaler {
	out := &HorizontalPodAutoscaler{
		TypeMeta:   TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: h.ObjectMeta,
		Spec: HorizontalPodAutoscalerSpec{
			ScaleTargetRef: h.Spec.ScaleTargetRef,
			MinReplicas:    h.Spec.MinReplicas,
			MaxReplicas:    h.Spec.MaxReplicas,
		},
		Status: HorizontalPodAutoscalerStatus{
			ObservedGeneration: h.Status.ObservedGeneration,
			LastScaleTime:      h.Status.LastScaleTime,
			CurrentReplicas:    h.Status.CurrentReplicas,
			DesiredReplicas:    h.Status.DesiredReplicas,
		},
	}
	if t := h.Spec.TargetCPUUtilizationPercentage; t != nil {
		out.Spec.Metrics = []MetricSpec{{Type: ResourceMetricSourceType, Resource: &ResourceMetricSource{
			Name: ResourceCPU, Target: MetricTarget{Type: UtilizationMetricType, AverageUtilization: t},
		}}}
	}
	if c := h.Status.CurrentCPUUtilizationPercentage; c != nil {
		out.Status.CurrentMetrics = []MetricStatus{{Type: ResourceMetricSourceType, Resource: &ResourceMetricStatus{
			Name: ResourceCPU, Current: MetricValueStatus{AverageUtilization: c},
		}}}
	}
	return out
}
