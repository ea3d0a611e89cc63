package objects

// LabelSelector is the structured label query used in specs (selector,
// podAffinity labelSelector, ...). Its requirements are ANDed.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one expression of a LabelSelector.
type LabelSelectorRequirement struct {
	Key      string                `json:"key"`
	Operator LabelSelectorOperator `json:"operator"`
	Values   []string              `json:"values,omitempty"`
}

// LabelSelectorOperator is In, NotIn, Exists or DoesNotExist.
type LabelSelectorOperator string

// Label selector operators.
const (
	LabelSelectorOpIn           LabelSelectorOperator = "In"
	LabelSelectorOpNotIn        LabelSelectorOperator = "NotIn"
	LabelSelectorOpExists       LabelSelectorOperator = "Exists"
	LabelSelectorOpDoesNotExist LabelSelectorOperator = "DoesNotExist"
)

// Selector is a compiled label query.
//
// +kubebuilder:object:generate=false
type Selector interface {
	// Matches reports whether the labels satisfy every requirement.
	Matches(labels map[string]string) bool
	// Empty reports whether the selector matches everything.
	Empty() bool
	// String returns the selector in its string form, which ParseSelector
	// reads back: "app=web,tier!=db,env in (a,b),!legacy".
	String() string
	// RequiresExactMatch returns the single value key must have for the
	// selector to match, if there is one (from "key=value" or "key in (v)").
	RequiresExactMatch(key string) (value string, ok bool)
}
