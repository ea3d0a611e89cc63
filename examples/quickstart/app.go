package main

import (
	"github.com/podkit/podkit/objects"
)

// The web application of the quickstart, as podkit's Go structs: the same
// fields, with the same names, as a Kubernetes manifest would give.

// webDeployment runs replicas of the demo image (it answers "hello from
// ..." with its pod name) with VERSION set to version. Its rolling updates
// never lower the number of ready pods (maxUnavailable 0, one surge pod),
// a pod gets requests only once its readiness probe passes, and a stopping
// pod keeps serving for a few seconds (preStop sleep) while the Service
// and the Ingress stop sending it new requests.
func webDeployment(image, version string) *objects.Deployment {
	labels := map[string]string{"app": "web"}
	return &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{
			Name:        "web",
			Labels:      labels,
			Annotations: map[string]string{"kubernetes.io/change-cause": "VERSION=" + version},
		},
		Spec: objects.DeploymentSpec{
			Replicas: ptr[int32](3),
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Strategy: objects.DeploymentStrategy{
				Type: objects.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &objects.RollingUpdateDeployment{
					MaxUnavailable: ptr(objects.FromInt32(0)),
					MaxSurge:       ptr(objects.FromInt32(1)),
				},
			},
			Template: objects.PodTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: labels},
				Spec: objects.PodSpec{
					TerminationGracePeriodSeconds: ptr[int64](10),
					Containers: []objects.Container{{
						Name:  "web",
						Image: image,
						Ports: []objects.ContainerPort{{Name: "http", ContainerPort: 8080}},
						Env: []objects.EnvVar{
							{Name: "VERSION", Value: version},
							{Name: "POD_NAME", ValueFrom: &objects.EnvVarSource{
								FieldRef: &objects.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						},
						ReadinessProbe: &objects.Probe{
							ProbeHandler: objects.ProbeHandler{HTTPGet: &objects.HTTPGetAction{
								Path: "/healthz", Port: objects.FromString("http")}},
							PeriodSeconds: 1,
						},
						Lifecycle: &objects.Lifecycle{
							PreStop: &objects.LifecycleHandler{Sleep: &objects.SleepAction{Seconds: 3}},
						},
					}},
				},
			},
		},
	}
}

// webService gives the pods one virtual IP, port 80.
func webService() *objects.Service {
	return &objects.Service{
		ObjectMeta: objects.ObjectMeta{Name: "web"},
		Spec: objects.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromString("http")}},
		},
	}
}

// webHost is the host name the Ingress routes to the Service.
const webHost = "web.podkit.test"

// webIngress routes http://web.podkit.test/ to the Service through
// podkit's Ingress controller (class "podkit").
func webIngress() *objects.Ingress {
	return &objects.Ingress{
		ObjectMeta: objects.ObjectMeta{Name: "web"},
		Spec: objects.IngressSpec{
			IngressClassName: ptr("podkit"),
			Rules: []objects.IngressRule{{
				Host: webHost,
				IngressRuleValue: objects.IngressRuleValue{HTTP: &objects.HTTPIngressRuleValue{
					Paths: []objects.HTTPIngressPath{{
						Path:     "/",
						PathType: ptr(objects.PathTypePrefix),
						Backend: objects.IngressBackend{Service: &objects.IngressServiceBackend{
							Name: "web", Port: objects.ServiceBackendPort{Name: "http"}}},
					}},
				}},
			}},
		},
	}
}

func ptr[T any](v T) *T { return &v }
