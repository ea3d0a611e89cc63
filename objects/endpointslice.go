package objects

import (
	"fmt"
	"net/netip"
)

// EndpointSlice lists some of the endpoints behind a Service
// (discovery.k8s.io/v1): addresses of one type, each with its readiness,
// that all serve the same ports. The endpoint slice controller keeps a
// Service's in slices of at most 100 endpoints, labelled
// LabelServiceName and LabelManagedBy.
type EndpointSlice struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	// AddressType is the type of every address of the slice: IPv4, IPv6
	// or FQDN. It cannot change.
	AddressType AddressType `json:"addressType"`
	Endpoints   []Endpoint  `json:"endpoints"`
	// Ports are served by every endpoint of the slice; none means all
	// ports (a headless Service without ports).
	Ports []EndpointSlicePort `json:"ports"`
}

// DeepCopyObject implements Object.
func (e *EndpointSlice) DeepCopyObject() Object { return e.DeepCopy() }

// AddressType is the type of an EndpointSlice's addresses.
type AddressType string

// Address types.
const (
	AddressTypeIPv4 AddressType = "IPv4"
	AddressTypeIPv6 AddressType = "IPv6"
	AddressTypeFQDN AddressType = "FQDN"
)

// Labels of the slices the endpoint slice controller keeps, as Kubernetes
// labels them.
const (
	// LabelServiceName names the Service a slice belongs to.
	LabelServiceName = "kubernetes.io/service-name"
	// LabelManagedBy names the controller that keeps a slice.
	LabelManagedBy = "endpointslice.kubernetes.io/managed-by"
	// EndpointSliceController is LabelManagedBy's value on the slices the
	// endpoint slice controller keeps.
	EndpointSliceController = "endpointslice-controller.k8s.io"
)

// Endpoint is one endpoint of a slice, usually a pod.
type Endpoint struct {
	// Addresses of the endpoint, of the slice's address type: one to 100,
	// all fungible (consumers use the first).
	Addresses  []string           `json:"addresses"`
	Conditions EndpointConditions `json:"conditions,omitempty"`
	Hostname   *string            `json:"hostname,omitempty"`
	TargetRef  *ObjectReference   `json:"targetRef,omitempty"`
	NodeName   *string            `json:"nodeName,omitempty"`
	Zone       *string            `json:"zone,omitempty"`
	Hints      *EndpointHints     `json:"hints,omitempty"`
}

// EndpointConditions are an endpoint's conditions; unset means unknown,
// read as true for Ready and Serving.
type EndpointConditions struct {
	// Ready: the endpoint should receive new traffic. Never true for a
	// terminating endpoint, unless its Service publishes not-ready
	// addresses.
	Ready *bool `json:"ready,omitempty"`
	// Serving: the endpoint passes its readiness checks, terminating or
	// not.
	Serving *bool `json:"serving,omitempty"`
	// Terminating: the endpoint is being deleted.
	Terminating *bool `json:"terminating,omitempty"`
}

// EndpointHints say where an endpoint should be used from.
type EndpointHints struct {
	ForZones []ForZone `json:"forZones,omitempty"`
	ForNodes []ForNode `json:"forNodes,omitempty"`
}

// ForZone names a zone an endpoint should serve.
type ForZone struct {
	Name string `json:"name"`
}

// ForNode names a node an endpoint should serve.
type ForNode struct {
	Name string `json:"name"`
}

// EndpointSlicePort is a port every endpoint of a slice serves.
type EndpointSlicePort struct {
	// Name is the Service port's name; "" for the only port.
	Name        *string   `json:"name,omitempty"`
	Protocol    *Protocol `json:"protocol,omitempty"`
	Port        *int32    `json:"port,omitempty"`
	AppProtocol *string   `json:"appProtocol,omitempty"`
}

// Kubernetes' bounds of an EndpointSlice.
const (
	maxSliceEndpoints = 1000
	maxSliceAddresses = 100
	maxSlicePorts     = 20000
)

// Default implements Defaulter: port names "" and protocols TCP, as
// Kubernetes defaults them.
func (e *EndpointSlice) Default() {
	for i := range e.Ports {
		p := &e.Ports[i]
		if p.Name == nil {
			p.Name = new(string)
		}
		if p.Protocol == nil {
			tcp := ProtocolTCP
			p.Protocol = &tcp
		}
	}
}

// Validate implements Validator, as Kubernetes' ValidateEndpointSlice.
func (e *EndpointSlice) Validate() ErrorList {
	var errs ErrorList
	switch e.AddressType {
	case AddressTypeIPv4, AddressTypeIPv6, AddressTypeFQDN:
	case "":
		errs = append(errs, Required(NewPath("addressType"), ""))
	default:
		errs = append(errs, NotSupported(NewPath("addressType"), e.AddressType,
			[]string{string(AddressTypeFQDN), string(AddressTypeIPv4), string(AddressTypeIPv6)}))
	}
	ep := NewPath("endpoints")
	if len(e.Endpoints) > maxSliceEndpoints {
		errs = append(errs, TooMany(ep, len(e.Endpoints), maxSliceEndpoints))
	}
	for i := range e.Endpoints {
		errs = append(errs, e.validateEndpoint(&e.Endpoints[i], ep.Index(i))...)
	}
	pp := NewPath("ports")
	if len(e.Ports) > maxSlicePorts {
		errs = append(errs, TooMany(pp, len(e.Ports), maxSlicePorts))
	}
	names := map[string]bool{}
	for i, port := range e.Ports {
		p := pp.Index(i)
		if port.Name != nil && *port.Name != "" {
			errs = appendMsgs(errs, p.Child("name"), *port.Name, IsDNS1123Label(*port.Name))
		}
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if names[name] {
			errs = append(errs, Duplicate(p.Child("name"), name))
		}
		names[name] = true
		if port.Protocol == nil {
			errs = append(errs, Required(p.Child("protocol"), ""))
		} else {
			errs = append(errs, validateProtocol(*port.Protocol, p.Child("protocol"))...)
		}
		if port.Port != nil {
			for _, m := range IsValidPortNum(int(*port.Port)) {
				errs = append(errs, Invalid(p.Child("port"), *port.Port, m))
			}
		}
		if port.AppProtocol != nil {
			errs = appendMsgs(errs, p.Child("appProtocol"), *port.AppProtocol, IsQualifiedName(*port.AppProtocol))
		}
	}
	return errs
}

func (e *EndpointSlice) validateEndpoint(ep *Endpoint, p *Path) ErrorList {
	var errs ErrorList
	ap := p.Child("addresses")
	switch n := len(ep.Addresses); {
	case n == 0:
		errs = append(errs, Required(ap, "must contain at least 1 address"))
	case n > maxSliceAddresses:
		errs = append(errs, TooMany(ap, n, maxSliceAddresses))
	}
	for i, a := range ep.Addresses {
		errs = append(errs, validateSliceAddress(e.AddressType, a, ap.Index(i))...)
	}
	if ep.Hostname != nil {
		errs = appendMsgs(errs, p.Child("hostname"), *ep.Hostname, IsDNS1123Label(*ep.Hostname))
	}
	if ep.NodeName != nil {
		errs = appendMsgs(errs, p.Child("nodeName"), *ep.NodeName, IsDNS1123Subdomain(*ep.NodeName))
	}
	if h := ep.Hints; h != nil {
		for i, z := range h.ForZones {
			if z.Name == "" {
				errs = append(errs, Required(p.Child("hints", "forZones").Index(i).Child("name"), ""))
			}
		}
		for i, n := range h.ForNodes {
			errs = appendMsgs(errs, p.Child("hints", "forNodes").Index(i).Child("name"), n.Name, IsDNS1123Subdomain(n.Name))
		}
	}
	return errs
}

// validateSliceAddress checks an address against the slice's type; an
// unknown type is reported once, on addressType.
func validateSliceAddress(t AddressType, a string, p *Path) ErrorList {
	switch t {
	case AddressTypeIPv4, AddressTypeIPv6:
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" || ip.Is4() != (t == AddressTypeIPv4) || ip.Is4In6() {
			return ErrorList{Invalid(p, a, fmt.Sprintf("must be a valid %s address", t))}
		}
	case AddressTypeFQDN:
		return appendMsgs(nil, p, a, IsDNS1123Subdomain(a))
	}
	return nil
}

// ValidateUpdate implements UpdateValidator: the address type cannot
// change.
func (e *EndpointSlice) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*EndpointSlice)
	if !ok {
		return ErrorList{Invalid(NewPath("kind"), fmt.Sprintf("%T", old), "cannot validate an update of an EndpointSlice against it")}
	}
	if e.AddressType != o.AddressType {
		return ErrorList{Invalid(NewPath("addressType"), e.AddressType, "field is immutable")}
	}
	return nil
}
