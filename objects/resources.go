package objects

// ResourceName names a resource a node offers and a container requests:
// "cpu", "memory", "ephemeral-storage", "pods", or an extended resource.
type ResourceName string

// Standard resource names, as Kubernetes spells them.
const (
	ResourceCPU              ResourceName = "cpu"
	ResourceMemory           ResourceName = "memory"
	ResourceEphemeralStorage ResourceName = "ephemeral-storage"
	ResourceStorage          ResourceName = "storage"
	ResourcePods             ResourceName = "pods"
)

// ResourceList maps resource names to quantities, as in requests, limits,
// capacity and allocatable.
type ResourceList map[ResourceName]Quantity

// Name returns the quantity of the named resource, or a zero quantity in
// defaultFormat when the list has none.
func (rl ResourceList) Name(name ResourceName, defaultFormat Format) Quantity {
	if q, ok := rl[name]; ok {
		return q
	}
	return Quantity{fmt: formatCode(defaultFormat)}
}

// Cpu returns the "cpu" quantity, zero if absent.
func (rl ResourceList) Cpu() Quantity { return rl.Name(ResourceCPU, DecimalSI) }

// Memory returns the "memory" quantity, zero if absent.
func (rl ResourceList) Memory() Quantity { return rl.Name(ResourceMemory, BinarySI) }

// Storage returns the "storage" quantity, zero if absent.
func (rl ResourceList) Storage() Quantity { return rl.Name(ResourceStorage, BinarySI) }

// StorageEphemeral returns the "ephemeral-storage" quantity, zero if absent.
func (rl ResourceList) StorageEphemeral() Quantity {
	return rl.Name(ResourceEphemeralStorage, BinarySI)
}

// Pods returns the "pods" quantity, zero if absent.
func (rl ResourceList) Pods() Quantity { return rl.Name(ResourcePods, DecimalSI) }
