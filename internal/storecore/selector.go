package storecore

import (
	"strings"

	"github.com/podkit/podkit/objects"
)

// Label is one key=value pair a selector requires.
type Label struct{ Key, Value string }

// ExactLabels returns the key=value pairs every object matching sel must
// have, in the order sel's string form lists them, so that a backend can
// look them up in a label index and filter the rest. It reads candidate keys
// from sel.String() and keeps those sel.RequiresExactMatch confirms, so any
// Selector implementation works; an unusual string form only means fewer
// index hits, never a wrong result.
func ExactLabels(sel objects.Selector) []Label {
	if sel == nil || sel.Empty() {
		return nil
	}
	var out []Label
	s := sel.String()
	depth, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '(':
				depth++
				continue
			case ')':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		term := strings.TrimSpace(s[start:i])
		start = i + 1
		key := term[:keyLen(term)]
		if key == "" {
			continue // "!key" and anything unexpected
		}
		if v, ok := sel.RequiresExactMatch(key); ok && !containsKey(out, key) {
			out = append(out, Label{key, v})
		}
	}
	return out
}

// keyLen is the length of the label key term starts with: label keys are
// made of letters, digits, '-', '_', '.' and '/'.
func keyLen(term string) int {
	for i := 0; i < len(term); i++ {
		c := term[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return i
		}
	}
	return len(term)
}

func containsKey(ls []Label, key string) bool {
	for _, l := range ls {
		if l.Key == key {
			return true
		}
	}
	return false
}
