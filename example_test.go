package podkit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

func Example() {
	ctx := context.Background()
	o, err := podkit.New()
	if err != nil {
		panic(err)
	}
	defer o.Close()

	objs, err := objects.DecodeYAML(strings.NewReader(`
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels: {app: web}
data:
  GREETING: hello
`))
	if err != nil {
		panic(err)
	}
	if err := o.Apply(ctx, objs...); err != nil {
		panic(err)
	}
	cms, err := podkit.List[*objects.ConfigMap](ctx, o, "default", podkit.WithLabels("app=web"))
	if err != nil {
		panic(err)
	}
	for _, cm := range cms {
		fmt.Println(cm.Namespace, cm.Name, cm.Data["GREETING"])
	}
	// Output: default web-config hello
}

func ExampleOrchestrator_Apply_invalid() {
	o, _ := podkit.New()
	defer o.Close()
	err := o.Apply(context.Background(), &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Name: "web"},
		Spec:       objects.PodSpec{Containers: []objects.Container{{Name: "web"}}},
	})
	fmt.Println(err)
	// Output: Pod "web" is invalid: spec.containers[0].image: Required value
}

func ExampleOrchestrator_WaitFor() {
	ctx := context.Background()
	o, _ := podkit.New()
	defer o.Close()
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "flag"}}
	create := cm.DeepCopy()
	go func() { _ = o.Create(ctx, create) }()
	if err := o.WaitFor(ctx, cm, podkit.Exists); err != nil {
		panic(err)
	}
	fmt.Println("created", cm.Name, "in", cm.Namespace)
	// Output: created flag in default
}

func ExampleGet() {
	ctx := context.Background()
	o, _ := podkit.New()
	defer o.Close()
	_ = o.Create(ctx, &objects.Secret{
		ObjectMeta: objects.ObjectMeta{Name: "db"},
		StringData: map[string]string{"password": "s3cr3t"},
	})
	s, err := podkit.Get[*objects.Secret](ctx, o, "default", "db")
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Type, string(s.Data["password"]))
	// Output: Opaque s3cr3t
}

func ExampleOrchestrator_Patch() {
	ctx := context.Background()
	o, _ := podkit.New()
	defer o.Close()
	_ = o.Create(ctx, &objects.ConfigMap{
		ObjectMeta: objects.ObjectMeta{Name: "web-config", Labels: map[string]string{"app": "web"}},
		Data:       map[string]string{"GREETING": "hello"},
	})
	// kubectl patch configmap web-config --type merge -p '...'
	cm := &objects.ConfigMap{}
	err := o.Patch(ctx, objects.Key{Name: "web-config"}, cm, podkit.MergePatch,
		[]byte(`{"metadata":{"labels":{"tier":"front"}},"data":{"GREETING":"hi","COLOR":"blue"}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(cm.Labels, cm.Data)
	// Output: map[app:web tier:front] map[COLOR:blue GREETING:hi]
}

func ExampleWithAdmission() {
	ctx := context.Background()
	ownerLabel := podkit.AdmissionHook{
		Name:  "owner-label",
		Kinds: []string{podkit.KindConfigMap},
		Mutate: func(req *podkit.AdmissionRequest) error { // as a mutating webhook
			m := req.Object.GetObjectMeta()
			if m.Labels["owner"] == "" {
				m.Labels = map[string]string{"owner": "platform"}
			}
			return nil
		},
		Validate: func(req *podkit.AdmissionRequest) error { // as a validating webhook
			if _, ok := req.Object.(*objects.ConfigMap).Data["password"]; ok {
				return errors.New("passwords belong in Secrets")
			}
			return nil
		},
	}
	o, _ := podkit.New(podkit.WithAdmission(ownerLabel))
	defer o.Close()
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "app"}, Data: map[string]string{"mode": "fast"}}
	_ = o.Create(ctx, cm)
	fmt.Println(cm.Labels["owner"])
	err := o.Create(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "db"}, Data: map[string]string{"password": "x"}})
	fmt.Println(err)
	// Output:
	// platform
	// admission hook "owner-label" denied the request: passwords belong in Secrets
}

func ExampleOrchestrator_Logs() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o, _ := podkit.New()
	defer o.Close()
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	defer func() { cancel(); <-done }()

	rt, _ := fake.New()
	_ = o.RegisterNode(ctx, &objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1"}}, rt)
	pod := &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Name: "hello"},
		Spec: objects.PodSpec{RestartPolicy: objects.RestartPolicyNever, Containers: []objects.Container{{
			Name: "main", Image: "busybox", Command: []string{"print", "hello", "world"}, // a fake runtime command
		}}},
	}
	_ = o.Apply(ctx, pod)
	succeeded := func(obj objects.Object) bool {
		p, ok := obj.(*objects.Pod)
		return ok && p.Status.Phase == objects.PodSucceeded
	}
	if err := o.WaitFor(ctx, pod, succeeded); err != nil {
		panic(err)
	}
	rc, err := o.Logs(ctx, "default", "hello", "")
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	fmt.Print(string(b))
	// Output:
	// hello
	// world
}
