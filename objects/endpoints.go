package objects

import "fmt"

// Endpoints lists the addresses and ports behind a Service (v1); the
// endpoints controller keeps one per Service, of the same name.
type Endpoints struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Subsets []EndpointSubset `json:"subsets,omitempty"`
}

// DeepCopyObject implements Object.
func (e *Endpoints) DeepCopyObject() Object { return e.DeepCopy() }

// EndpointSubset is a set of addresses that all serve the same ports.
type EndpointSubset struct {
	Addresses         []EndpointAddress `json:"addresses,omitempty"`
	NotReadyAddresses []EndpointAddress `json:"notReadyAddresses,omitempty"`
	Ports             []EndpointPort    `json:"ports,omitempty"`
}

// EndpointAddress is one endpoint, usually a pod.
type EndpointAddress struct {
	IP        string           `json:"ip"`
	Hostname  string           `json:"hostname,omitempty"`
	NodeName  *string          `json:"nodeName,omitempty"`
	TargetRef *ObjectReference `json:"targetRef,omitempty"`
}

// EndpointPort is one port of an endpoint subset.
type EndpointPort struct {
	Name        string   `json:"name,omitempty"`
	Port        int32    `json:"port"`
	Protocol    Protocol `json:"protocol,omitempty"`
	AppProtocol *string  `json:"appProtocol,omitempty"`
}

// Default implements Defaulter: port protocol TCP.
func (e *Endpoints) Default() {
	for i := range e.Subsets {
		for j := range e.Subsets[i].Ports {
			if p := &e.Subsets[i].Ports[j]; p.Protocol == "" {
				p.Protocol = ProtocolTCP
			}
		}
	}
}

// Validate implements Validator.
func (e *Endpoints) Validate() ErrorList {
	var errs ErrorList
	for i, ss := range e.Subsets {
		sp := NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, Required(sp, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], sp.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], sp.Child("notReadyAddresses").Index(j))...)
		}
		names := map[string]bool{}
		for j, port := range ss.Ports {
			pp := sp.Child("ports").Index(j)
			if port.Name == "" {
				if len(ss.Ports) > 1 {
					errs = append(errs, Required(pp.Child("name"), ""))
				}
			} else {
				errs = appendMsgs(errs, pp.Child("name"), port.Name, IsDNS1123Label(port.Name))
				if names[port.Name] {
					errs = append(errs, Duplicate(pp.Child("name"), port.Name))
				}
				names[port.Name] = true
			}
			for _, m := range IsValidPortNum(int(port.Port)) {
				errs = append(errs, Invalid(pp.Child("port"), port.Port, m))
			}
			errs = append(errs, validateProtocol(port.Protocol, pp.Child("protocol"))...)
			if port.AppProtocol != nil {
				errs = appendMsgs(errs, pp.Child("appProtocol"), *port.AppProtocol, IsQualifiedName(*port.AppProtocol))
			}
		}
	}
	return errs
}

func validateEndpointAddress(a *EndpointAddress, p *Path) ErrorList {
	errs := validateIP(a.IP, p.Child("ip"))
	if a.Hostname != "" {
		errs = appendMsgs(errs, p.Child("hostname"), a.Hostname, IsDNS1123Label(a.Hostname))
	}
	if a.NodeName != nil && *a.NodeName != "" {
		errs = appendMsgs(errs, p.Child("nodeName"), *a.NodeName, IsDNS1123Subdomain(*a.NodeName))
	}
	return errs
}

// ObjectReference points at any object, by kind and name, for events,
// claims and endpoint targets.
type ObjectReference struct {
	Kind            string `json:"kind,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	FieldPath       string `json:"fieldPath,omitempty"`
}

// String renders the reference as "Kind namespace/name".
func (r *ObjectReference) String() string {
	if r.Namespace == "" {
		return fmt.Sprintf("%s %s", r.Kind, r.Name)
	}
	return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
}
