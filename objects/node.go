package objects

import (
	"net/netip"
	"slices"
	"strconv"
)

// Node is a machine pods run on (v1, cluster-scoped).
type Node struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   NodeSpec   `json:"spec,omitempty"`
	Status NodeStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (n *Node) DeepCopyObject() Object { return n.DeepCopy() }

// NodeSpec is the desired state of a node.
type NodeSpec struct {
	PodCIDR       string   `json:"podCIDR,omitempty"`
	PodCIDRs      []string `json:"podCIDRs,omitempty" patchStrategy:"merge"`
	ProviderID    string   `json:"providerID,omitempty"`
	Unschedulable bool     `json:"unschedulable,omitempty"`
	Taints        []Taint  `json:"taints,omitempty"`
}

// NodeStatus is the observed state of a node.
type NodeStatus struct {
	Capacity    ResourceList    `json:"capacity,omitempty"`
	Allocatable ResourceList    `json:"allocatable,omitempty"`
	Phase       NodePhase       `json:"phase,omitempty"`
	Conditions  []NodeCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	Addresses   []NodeAddress   `json:"addresses,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	NodeInfo    NodeSystemInfo  `json:"nodeInfo,omitempty"`
}

// NodePhase is Pending, Running or Terminated (rarely used, as in Kubernetes).
type NodePhase string

// Node phases.
const (
	NodePending    NodePhase = "Pending"
	NodeRunning    NodePhase = "Running"
	NodeTerminated NodePhase = "Terminated"
)

// NodeConditionType names a node condition.
type NodeConditionType string

// Node conditions.
const (
	NodeReady              NodeConditionType = "Ready"
	NodeMemoryPressure     NodeConditionType = "MemoryPressure"
	NodeDiskPressure       NodeConditionType = "DiskPressure"
	NodePIDPressure        NodeConditionType = "PIDPressure"
	NodeNetworkUnavailable NodeConditionType = "NetworkUnavailable"
)

// NodeCondition is one condition of a node.
type NodeCondition struct {
	Type               NodeConditionType `json:"type"`
	Status             ConditionStatus   `json:"status"`
	LastHeartbeatTime  Time              `json:"lastHeartbeatTime,omitempty"`
	LastTransitionTime Time              `json:"lastTransitionTime,omitempty"`
	Reason             string            `json:"reason,omitempty"`
	Message            string            `json:"message,omitempty"`
}

// NodeAddressType is Hostname, InternalIP, ExternalIP, InternalDNS or
// ExternalDNS.
type NodeAddressType string

// Node address types.
const (
	NodeHostName    NodeAddressType = "Hostname"
	NodeInternalIP  NodeAddressType = "InternalIP"
	NodeExternalIP  NodeAddressType = "ExternalIP"
	NodeInternalDNS NodeAddressType = "InternalDNS"
	NodeExternalDNS NodeAddressType = "ExternalDNS"
)

// NodeAddress is one address of a node.
type NodeAddress struct {
	Type    NodeAddressType `json:"type"`
	Address string          `json:"address"`
}

// NodeSystemInfo describes the node's software.
type NodeSystemInfo struct {
	MachineID               string `json:"machineID"`
	SystemUUID              string `json:"systemUUID"`
	BootID                  string `json:"bootID"`
	KernelVersion           string `json:"kernelVersion"`
	OSImage                 string `json:"osImage"`
	ContainerRuntimeVersion string `json:"containerRuntimeVersion"`
	KubeletVersion          string `json:"kubeletVersion"`
	KubeProxyVersion        string `json:"kubeProxyVersion"`
	OperatingSystem         string `json:"operatingSystem"`
	Architecture            string `json:"architecture"`
}

// Taint repels pods that do not tolerate it from a node.
type Taint struct {
	Key       string      `json:"key"`
	Value     string      `json:"value,omitempty"`
	Effect    TaintEffect `json:"effect"`
	TimeAdded *Time       `json:"timeAdded,omitempty"`
}

// TaintEffect is what a taint does to pods that do not tolerate it.
type TaintEffect string

// Taint effects.
const (
	TaintEffectNoSchedule       TaintEffect = "NoSchedule"
	TaintEffectPreferNoSchedule TaintEffect = "PreferNoSchedule"
	TaintEffectNoExecute        TaintEffect = "NoExecute"
)

// Taints the node lifecycle controller and node agent put on nodes.
const (
	TaintNodeNotReady      = "node.kubernetes.io/not-ready"
	TaintNodeUnreachable   = "node.kubernetes.io/unreachable"
	TaintNodeUnschedulable = "node.kubernetes.io/unschedulable"
)

// String renders the taint as kubectl does: "key=value:Effect".
func (t *Taint) String() string {
	if t.Value == "" {
		return t.Key + ":" + string(t.Effect)
	}
	return t.Key + "=" + t.Value + ":" + string(t.Effect)
}

// MatchTaint reports whether t and o have the same key and effect, which
// identifies a taint on a node.
func (t *Taint) MatchTaint(o *Taint) bool { return t.Key == o.Key && t.Effect == o.Effect }

// Toleration lets a pod be scheduled on, or stay on, a node with a matching
// taint.
type Toleration struct {
	Key               string             `json:"key,omitempty"`
	Operator          TolerationOperator `json:"operator,omitempty"`
	Value             string             `json:"value,omitempty"`
	Effect            TaintEffect        `json:"effect,omitempty"`
	TolerationSeconds *int64             `json:"tolerationSeconds,omitempty"`
}

// TolerationOperator is Exists or Equal; empty means Equal.
type TolerationOperator string

// Toleration operators.
const (
	TolerationOpExists TolerationOperator = "Exists"
	TolerationOpEqual  TolerationOperator = "Equal"
)

// ToleratesTaint reports whether the toleration matches the taint, by
// Kubernetes' rules: an empty effect matches every effect, an empty key with
// Exists matches every key, Equal (or empty) needs equal values.
func (t *Toleration) ToleratesTaint(taint *Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "", TolerationOpEqual:
		return t.Value == taint.Value
	case TolerationOpExists:
		return true
	}
	return false
}

// TolerationsTolerateTaint reports whether any of the tolerations
// tolerates the taint.
func TolerationsTolerateTaint(tolerations []Toleration, taint *Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(taint) {
			return true
		}
	}
	return false
}

// NodeSelector is a list of terms, ORed; it matches a node that one term
// matches.
type NodeSelector struct {
	NodeSelectorTerms []NodeSelectorTerm `json:"nodeSelectorTerms"`
}

// NodeSelectorTerm is a set of requirements on a node's labels and fields,
// ANDed. A term with no requirement matches no node.
type NodeSelectorTerm struct {
	MatchExpressions []NodeSelectorRequirement `json:"matchExpressions,omitempty"`
	MatchFields      []NodeSelectorRequirement `json:"matchFields,omitempty"`
}

// NodeSelectorRequirement is one requirement of a NodeSelectorTerm.
type NodeSelectorRequirement struct {
	Key      string               `json:"key"`
	Operator NodeSelectorOperator `json:"operator"`
	Values   []string             `json:"values,omitempty"`
}

// NodeSelectorOperator is In, NotIn, Exists, DoesNotExist, Gt or Lt.
type NodeSelectorOperator string

// Node selector operators.
const (
	NodeSelectorOpIn           NodeSelectorOperator = "In"
	NodeSelectorOpNotIn        NodeSelectorOperator = "NotIn"
	NodeSelectorOpExists       NodeSelectorOperator = "Exists"
	NodeSelectorOpDoesNotExist NodeSelectorOperator = "DoesNotExist"
	NodeSelectorOpGt           NodeSelectorOperator = "Gt"
	NodeSelectorOpLt           NodeSelectorOperator = "Lt"
)

// GetNodeCondition returns the condition of type t of the status, or nil.
// The pointer refers into status, so it can be updated in place.
func GetNodeCondition(status *NodeStatus, t NodeConditionType) *NodeCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// IsNodeReady reports whether the node's Ready condition is True.
func IsNodeReady(n *Node) bool {
	c := GetNodeCondition(&n.Status, NodeReady)
	return c != nil && c.Status == ConditionTrue
}

// Default fills in podCIDRs from podCIDR and allocatable from capacity, as
// Kubernetes does.
func (n *Node) Default() {
	if n.Spec.PodCIDR != "" && len(n.Spec.PodCIDRs) == 0 {
		n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	}
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = make(ResourceList, len(n.Status.Capacity))
		for k, v := range n.Status.Capacity {
			n.Status.Allocatable[k] = v.DeepCopy()
		}
	}
}

// Validate implements Validator.
func (n *Node) Validate() ErrorList {
	var errs ErrorList
	spec := NewPath("spec")
	if len(n.Spec.PodCIDRs) > 0 {
		if n.Spec.PodCIDR != "" && n.Spec.PodCIDR != n.Spec.PodCIDRs[0] {
			errs = append(errs, Invalid(spec.Child("podCIDRs"), n.Spec.PodCIDRs, "first value must match `podCIDR`"))
		}
		if len(n.Spec.PodCIDRs) > 2 {
			errs = append(errs, Invalid(spec.Child("podCIDRs"), n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
	}
	for i, c := range n.Spec.PodCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			errs = append(errs, Invalid(spec.Child("podCIDRs").Index(i), c, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
		}
	}
	errs = append(errs, validateTaints(n.Spec.Taints, spec.Child("taints"))...)
	st := NewPath("status")
	errs = append(errs, validateResourceListValues(n.Status.Capacity, st.Child("capacity"))...)
	errs = append(errs, validateResourceListValues(n.Status.Allocatable, st.Child("allocatable"))...)
	return errs
}

// ValidateUpdate implements UpdateValidator: podCIDRs and providerID may
// only be set once.
func (n *Node) ValidateUpdate(old Object) ErrorList {
	o := old.(*Node)
	var errs ErrorList
	if len(o.Spec.PodCIDRs) > 0 && !slices.Equal(o.Spec.PodCIDRs, n.Spec.PodCIDRs) {
		errs = append(errs, Forbidden(NewPath("spec", "podCIDRs"), `node updates may not change podCIDR except from "" to valid`))
	}
	if o.Spec.ProviderID != "" && o.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, Forbidden(NewPath("spec", "providerID"), `node updates may not change providerID except from "" to valid`))
	}
	return errs
}

func validateTaints(taints []Taint, p *Path) ErrorList {
	var errs ErrorList
	seen := map[string]bool{}
	for i, t := range taints {
		ip := p.Index(i)
		errs = appendMsgs(errs, ip.Child("key"), t.Key, IsQualifiedName(t.Key))
		errs = appendMsgs(errs, ip.Child("value"), t.Value, IsValidLabelValue(t.Value))
		errs = append(errs, validateTaintEffect(t.Effect, false, ip.Child("effect"))...)
		k := t.Key + ":" + string(t.Effect)
		if seen[k] {
			errs = append(errs, &FieldError{Type: ErrorTypeDuplicate, Field: ip.String(),
				BadValue: t.String(), Detail: "taints must be unique by key and effect pair"})
		}
		seen[k] = true
	}
	return errs
}

func validateTaintEffect(e TaintEffect, allowEmpty bool, p *Path) ErrorList {
	switch e {
	case TaintEffectNoSchedule, TaintEffectPreferNoSchedule, TaintEffectNoExecute:
		return nil
	case "":
		if allowEmpty {
			return nil
		}
		return ErrorList{Required(p, "")}
	}
	return ErrorList{NotSupported(p, string(e), []string{string(TaintEffectNoExecute), string(TaintEffectNoSchedule), string(TaintEffectPreferNoSchedule)})}
}

// ValidateNodeSelector checks a required node selector (node affinity, a
// PersistentVolume's node affinity).
func ValidateNodeSelector(s *NodeSelector, p *Path) ErrorList {
	var errs ErrorList
	tp := p.Child("nodeSelectorTerms")
	if len(s.NodeSelectorTerms) == 0 {
		return ErrorList{Required(tp, "must have at least one node selector term")}
	}
	for i := range s.NodeSelectorTerms {
		errs = append(errs, validateNodeSelectorTerm(&s.NodeSelectorTerms[i], tp.Index(i))...)
	}
	return errs
}

func validateNodeSelectorTerm(t *NodeSelectorTerm, p *Path) ErrorList {
	var errs ErrorList
	for i, r := range t.MatchExpressions {
		rp := p.Child("matchExpressions").Index(i)
		vp := rp.Child("values")
		switch r.Operator {
		case NodeSelectorOpIn, NodeSelectorOpNotIn:
			if len(r.Values) == 0 {
				errs = append(errs, Required(vp, "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case NodeSelectorOpExists, NodeSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				errs = append(errs, Forbidden(vp, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		case NodeSelectorOpGt, NodeSelectorOpLt:
			if len(r.Values) != 1 {
				errs = append(errs, Required(vp, "must be specified single value when `operator` is 'Lt' or 'Gt'"))
			} else if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
				errs = append(errs, Invalid(vp.Index(0), r.Values[0], "must be an integer when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, Invalid(rp.Child("operator"), string(r.Operator), "not a valid selector operator"))
		}
		errs = appendMsgs(errs, rp.Child("key"), r.Key, IsQualifiedName(r.Key))
	}
	for i, r := range t.MatchFields {
		rp := p.Child("matchFields").Index(i)
		switch r.Operator {
		case NodeSelectorOpIn, NodeSelectorOpNotIn:
			if len(r.Values) != 1 {
				errs = append(errs, Required(rp.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
			}
		default:
			errs = append(errs, Invalid(rp.Child("operator"), string(r.Operator), "not a valid selector operator"))
		}
		if r.Key != "metadata.name" {
			errs = append(errs, Invalid(rp.Child("key"), r.Key, "not a valid field selector key"))
			continue
		}
		for j, v := range r.Values {
			errs = appendMsgs(errs, rp.Child("values").Index(j), v, IsDNS1123Subdomain(v))
		}
	}
	return errs
}

// validateResourceListValues checks that every quantity is non-negative.
func validateResourceListValues(l ResourceList, p *Path) ErrorList {
	var errs ErrorList
	for _, name := range sortedResourceNames(l) {
		q := l[name]
		errs = appendMsgs(errs, p.Key(string(name)), string(name), IsQualifiedName(string(name)))
		if q.Sign() < 0 {
			errs = append(errs, Invalid(p.Key(string(name)), q.String(), "must be greater than or equal to 0"))
		}
	}
	return errs
}

// Well-known node labels, as the kubelet and cloud providers set them.
const (
	LabelHostname = "kubernetes.io/hostname"
	LabelZone     = "topology.kubernetes.io/zone"
	LabelRegion   = "topology.kubernetes.io/region"
	// LabelOS is the node's operating system, as GOOS names it; a node
	// without it is linux.
	LabelOS = "kubernetes.io/os"
	// LabelArch is the node's architecture, as GOARCH names it.
	LabelArch = "kubernetes.io/arch"
)
