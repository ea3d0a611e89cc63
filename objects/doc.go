// Package objects defines podkit's object model: the Kubernetes kinds podkit
// supports as plain Go structs whose JSON and YAML field names equal
// Kubernetes', resource quantities, label selectors, validation and
// defaulting, and the decoding of Kubernetes manifests.
//
// +kubebuilder:object:generate=true
package objects

//go:generate go run ./internal/splitdeepcopy -clean
//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.19.0 object paths=.
//go:generate go run ./internal/splitdeepcopy
