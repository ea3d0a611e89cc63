package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func serviceBackend(name string, port int32) IngressBackend {
	return IngressBackend{Service: &IngressServiceBackend{Name: name, Port: ServiceBackendPort{Number: port}}}
}

func newIngress() *Ingress {
	return &Ingress{
		ObjectMeta: ObjectMeta{Name: "shop", Namespace: "default"},
		Spec: IngressSpec{
			IngressClassName: ptrTo("podkit"),
			TLS:              []IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}},
			Rules: []IngressRule{{
				Host: "shop.example.com",
				IngressRuleValue: IngressRuleValue{HTTP: &HTTPIngressRuleValue{Paths: []HTTPIngressPath{
					{Path: "/a", PathType: ptrTo(PathTypePrefix), Backend: serviceBackend("a", 80)},
					{Path: "/b", PathType: ptrTo(PathTypeExact), Backend: IngressBackend{Service: &IngressServiceBackend{Name: "b", Port: ServiceBackendPort{Name: "http"}}}},
				}}},
			}},
		},
	}
}

func TestIngressValidate(t *testing.T) {
	path := func(i *Ingress) *HTTPIngressPath { return &i.Spec.Rules[0].HTTP.Paths[0] }
	cases := []struct {
		name   string
		mutate func(*Ingress)
		want   []string
	}{
		{"valid", func(*Ingress) {}, nil},
		{"valid default backend only", func(i *Ingress) {
			i.Spec.Rules = nil
			b := serviceBackend("web", 8080)
			i.Spec.DefaultBackend = &b
		}, nil},
		{"valid wildcard host", func(i *Ingress) { i.Spec.Rules[0].Host = "*.example.com"; i.Spec.TLS[0].Hosts[0] = "*.example.com" }, nil},
		{"valid rule without host", func(i *Ingress) { i.Spec.Rules[0].Host = "" }, nil},
		{"valid implementation specific without path", func(i *Ingress) {
			path(i).Path = ""
			path(i).PathType = ptrTo(PathTypeImplementationSpecific)
		}, nil},
		{"valid resource backend", func(i *Ingress) {
			path(i).Backend = IngressBackend{Resource: &TypedLocalObjectReference{APIGroup: ptrTo("k8s.example.com"), Kind: "StorageBucket", Name: "static"}}
		}, nil},
		{"nothing to route", func(i *Ingress) { i.Spec.Rules = nil }, []string{"spec: Invalid value"}},
		{"pathType required", func(i *Ingress) { path(i).PathType = nil }, []string{"spec.rules[0].http.paths[0].pathType: Required value"}},
		{"pathType unknown", func(i *Ingress) { path(i).PathType = ptrTo(PathType("Regex")) },
			[]string{"spec.rules[0].http.paths[0].pathType: Unsupported value"}},
		{"relative prefix", func(i *Ingress) { path(i).Path = "a" }, []string{"spec.rules[0].http.paths[0].path: Invalid value"}},
		{"relative implementation specific", func(i *Ingress) {
			path(i).Path = "a"
			path(i).PathType = ptrTo(PathTypeImplementationSpecific)
		}, []string{"spec.rules[0].http.paths[0].path: Invalid value"}},
		{"dot segments", func(i *Ingress) { path(i).Path = "/a/../b" }, []string{"spec.rules[0].http.paths[0].path: Invalid value"}},
		{"no paths", func(i *Ingress) { i.Spec.Rules[0].HTTP.Paths = nil }, []string{"spec.rules[0].http.paths: Required value"}},
		{"no backend", func(i *Ingress) { path(i).Backend = IngressBackend{} }, []string{"spec.rules[0].http.paths[0].backend: Invalid value"}},
		{"both backends", func(i *Ingress) {
			path(i).Backend.Resource = &TypedLocalObjectReference{Kind: "Bucket", Name: "b"}
		}, []string{"spec.rules[0].http.paths[0].backend: Invalid value"}},
		{"service name required", func(i *Ingress) { path(i).Backend.Service.Name = "" },
			[]string{"spec.rules[0].http.paths[0].backend.service.name: Required value"}},
		{"service name DNS-1035", func(i *Ingress) { path(i).Backend.Service.Name = "1web" },
			[]string{"spec.rules[0].http.paths[0].backend.service.name: Invalid value"}},
		{"port required", func(i *Ingress) { path(i).Backend.Service.Port = ServiceBackendPort{} },
			[]string{"spec.rules[0].http.paths[0].backend: Required value"}},
		{"port name and number", func(i *Ingress) { path(i).Backend.Service.Port.Name = "http" },
			[]string{"spec.rules[0].http.paths[0].backend: Invalid value"}},
		{"port number out of range", func(i *Ingress) { path(i).Backend.Service.Port.Number = 70000 },
			[]string{"spec.rules[0].http.paths[0].backend.service.port.number: Invalid value"}},
		{"port name invalid", func(i *Ingress) { i.Spec.Rules[0].HTTP.Paths[1].Backend.Service.Port.Name = "HTTP" },
			[]string{"spec.rules[0].http.paths[1].backend.service.port.name: Invalid value", "spec.rules[0].http.paths[1].backend.service.port.name: Invalid value"}},
		{"resource kind required", func(i *Ingress) {
			path(i).Backend = IngressBackend{Resource: &TypedLocalObjectReference{Name: "b"}}
		}, []string{"spec.rules[0].http.paths[0].backend.resource.kind: Required value"}},
		{"host is an IP", func(i *Ingress) { i.Spec.Rules[0].Host = "10.0.0.1" }, []string{"spec.rules[0].host: Invalid value"}},
		{"host uppercase", func(i *Ingress) { i.Spec.Rules[0].Host = "Shop.example.com" }, []string{"spec.rules[0].host: Invalid value"}},
		{"bare wildcard", func(i *Ingress) { i.Spec.Rules[0].Host = "*" }, []string{"spec.rules[0].host: Invalid value"}},
		{"wildcard not first", func(i *Ingress) { i.Spec.Rules[0].Host = "shop.*.com" }, []string{"spec.rules[0].host: Invalid value"}},
		{"tls host invalid", func(i *Ingress) { i.Spec.TLS[0].Hosts[0] = "shop_example" }, []string{"spec.tls[0].hosts[0]: Invalid value"}},
		{"tls secret name invalid", func(i *Ingress) { i.Spec.TLS[0].SecretName = "Shop" }, []string{"spec.tls[0].secretName: Invalid value"}},
		{"class name invalid", func(i *Ingress) { i.Spec.IngressClassName = ptrTo("Podkit") }, []string{"spec.ingressClassName: Invalid value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i := newIngress()
			c.mutate(i)
			assert.Equal(t, c.want, errorSummary(i.Validate()))
		})
	}
}

func TestIngressValidateMessages(t *testing.T) {
	i := newIngress()
	i.Spec.Rules[0].HTTP.Paths[0].PathType = nil
	i.Spec.Rules[0].HTTP.Paths[1].Path = "b"
	i.Spec.Rules[0].HTTP.Paths[1].Backend.Service.Port = ServiceBackendPort{}
	err := validateThroughScheme(i)
	require.Error(t, err)
	assert.Equal(t, `Ingress "shop" is invalid: [`+
		`spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified, `+
		`spec.rules[0].http.paths[1].path: Invalid value: "b": must be an absolute path, `+
		`spec.rules[0].http.paths[1].backend: Required value: port name or number is required]`, err.Error())
}

func TestIngressManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: minimal-ingress
  namespace: default
  annotations: {nginx.ingress.kubernetes.io/rewrite-target: /}
spec:
  ingressClassName: podkit
  defaultBackend:
    service:
      name: default-http-backend
      port: {number: 80}
  tls:
  - hosts: [https-example.foo.com]
    secretName: testsecret-tls
  rules:
  - host: foo.bar.com
    http:
      paths:
      - path: /testpath
        pathType: Prefix
        backend:
          service:
            name: test
            port: {number: 80}
      - path: /static
        pathType: ImplementationSpecific
        backend:
          resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: static-assets}
  - host: "*.foo.com"
    http:
      paths:
      - path: /exact
        pathType: Exact
        backend:
          service:
            name: service2
            port: {name: http}
status:
  loadBalancer:
    ingress:
    - ip: 192.0.2.10
      ports:
      - {port: 443, protocol: TCP, error: Pending}
    - hostname: lb.example.com
`)
	i := obj.(*Ingress)
	assert.Equal(t, "foo.bar.com", i.Spec.Rules[0].Host)
	assert.Equal(t, PathTypePrefix, *i.Spec.Rules[0].HTTP.Paths[0].PathType)
	assert.Equal(t, "http", i.Spec.Rules[1].HTTP.Paths[0].Backend.Service.Port.Name)
	assert.Equal(t, "192.0.2.10", i.Status.LoadBalancer.Ingress[0].IP)
	require.NoError(t, validateThroughScheme(i))
	jsonRoundTrip(t, i)
}
