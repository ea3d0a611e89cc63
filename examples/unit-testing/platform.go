// Command unit-testing shows how a platform built on podkit tests its own
// logic with runtime/fake: the real scheduler, controllers and node agents
// run in the test process, no daemon is needed, and a test takes
// milliseconds. The platform's logic is DeployApp; platform_test.go tests it,
// and main runs the same flow and prints the pods as kubectl would.
//
//	go run ./examples/unit-testing
//	go test ./examples/unit-testing
package main

import (
	"context"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// DeployApp is the platform logic under test: it runs image as name with
// replicas pods behind a ClusterIP Service on port 80, creating or updating
// both objects.
func DeployApp(ctx context.Context, o *podkit.Orchestrator, name, image string, replicas int32) error {
	labels := map[string]string{"app": name}
	dep := &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{Name: name, Labels: labels},
		Spec: objects.DeploymentSpec{
			Replicas: &replicas,
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Template: objects.PodTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: labels},
				Spec: objects.PodSpec{Containers: []objects.Container{{
					Name:  "app",
					Image: image,
					Ports: []objects.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}
	svc := &objects.Service{
		ObjectMeta: objects.ObjectMeta{Name: name, Labels: labels},
		Spec: objects.ServiceSpec{
			Selector: labels,
			Ports:    []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromString("http")}},
		},
	}
	return o.Apply(ctx, dep, svc)
}
