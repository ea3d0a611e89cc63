package fake

import (
	"context"
	"reflect"
	"testing"

	"github.com/podkit/podkit/runtime"
)

// perContainer are the fields of a ContainerConfig a container keeps
// itself; sameSpec compares every other one.
var perContainer = map[string]bool{"Name": true, "Attempt": true, "Image": true, "Labels": true}

// nonZero returns a value of t other than its zero value.
func nonZero(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Slice:
		v.Set(reflect.Append(reflect.MakeSlice(t, 0, 1), nonZero(t.Elem())))
	case reflect.Map:
		v.Set(reflect.MakeMap(t))
		v.SetMapIndex(nonZero(t.Key()), nonZero(t.Elem()))
	case reflect.Struct:
		for i := range t.NumField() {
			v.Field(i).Set(nonZero(t.Field(i).Type))
		}
	case reflect.Pointer:
		v.Set(reflect.New(t.Elem()))
		v.Elem().Set(nonZero(t.Elem()))
	default:
		panic("nonZero: no value for " + t.String())
	}
	return v
}

func TestSameSpecComparesEveryField(t *testing.T) {
	rt, err := New()
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[runtime.ContainerConfig]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var a, b runtime.ContainerConfig
		reflect.ValueOf(&b).Elem().Field(i).Set(nonZero(f.Type))
		if got, want := sameSpec(&a, &b), perContainer[f.Name]; got != want {
			t.Errorf("sameSpec of configs differing in %s = %v, want %v", f.Name, got, want)
		}
		if !perContainer[f.Name] && hashSpec(rt.specSeed, &a) == hashSpec(rt.specSeed, &b) {
			t.Errorf("hashSpec ignores %s", f.Name)
		}
	}
	styp := reflect.TypeFor[runtime.Security]()
	for i := range styp.NumField() {
		f := styp.Field(i)
		var a, b runtime.ContainerConfig
		reflect.ValueOf(&b.Security).Elem().Field(i).Set(nonZero(f.Type))
		if sameSpec(&a, &b) {
			t.Errorf("sameSpec ignores Security.%s", f.Name)
		}
		if hashSpec(rt.specSeed, &a) == hashSpec(rt.specSeed, &b) {
			t.Errorf("hashSpec ignores Security.%s", f.Name)
		}
	}
}

func TestSpecsAreSharedAndReleased(t *testing.T) {
	ctx := context.Background()
	rt, err := New(WithImages("app:1"))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := rt.RunSandbox(ctx, &runtime.SandboxConfig{PodUID: "u1", PodName: "p", PodNamespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	cfgs := []*runtime.ContainerConfig{
		{Name: "a", Image: "app:1", Env: []runtime.EnvVar{{Name: "K", Value: "v"}}, Labels: map[string]string{"c": "a"}},
		{Name: "b", Image: "app:1", Attempt: 1, Env: []runtime.EnvVar{{Name: "K", Value: "v"}}, Labels: map[string]string{"c": "b"}},
		{Name: "c", Image: "app:1", Env: []runtime.EnvVar{{Name: "K", Value: "w"}}},
		{Name: "d", Image: "app:1", Command: []string{}},
		{Name: "e", Image: "app:1"},
	}
	var ids []string
	for _, cfg := range cfgs {
		id, err := rt.CreateContainer(ctx, sb, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// The runtime keeps copies: what the caller changes later is not seen.
	cfgs[1].Env[0].Value = "changed after the call"
	cfgs[1].Env = []runtime.EnvVar{{Name: "K", Value: "v"}}
	if a, b := rt.lookupContainer(ids[0]).spec, rt.lookupContainer(ids[1]).spec; a != b || a.refs != 2 {
		t.Errorf("containers a and b have specs %p and %p (refs %d), want one shared by both", a, b, a.refs)
	}
	got := rt.Configs()
	for i, c := range got {
		if c.ID != ids[i] || !reflect.DeepEqual(c.Config, *cfgs[i]) {
			t.Errorf("Configs()[%d] = %+v, want %s %+v", i, c, ids[i], *cfgs[i])
		}
	}
	if err := rt.RemoveSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if len(rt.specs) != 0 {
		t.Errorf("specs after every container is removed: %v, want none", rt.specs)
	}
}
