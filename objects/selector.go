package objects

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// selectorOp is the operator of one requirement of a compiled selector.
type selectorOp uint8

const (
	opEquals       selectorOp = iota + 1 // key=value
	opDoubleEquals                       // key==value
	opNotEquals                          // key!=value
	opIn                                 // key in (a,b)
	opNotIn                              // key notin (a,b)
	opExists                             // key
	opDoesNotExist                       // !key
	opGreaterThan                        // key>1
	opLessThan                           // key<1
)

// binaryOperators lists the operators a key may be followed by, in the
// words Kubernetes' parser uses in its errors.
const binaryOperators = "in, notin, =, ==, !=, gt, lt"

// requirement is one ANDed term of a selector. Its values are sorted and
// without duplicates.
type requirement struct {
	key    string
	op     selectorOp
	values []string
}

func (r *requirement) hasValue(v string) bool {
	for _, x := range r.values {
		if x == v {
			return true
		}
	}
	return false
}

func (r *requirement) matches(labels map[string]string) bool {
	v, ok := labels[r.key]
	switch r.op {
	case opEquals, opDoubleEquals, opIn:
		return ok && r.hasValue(v)
	case opNotEquals, opNotIn:
		return !ok || !r.hasValue(v)
	case opExists:
		return ok
	case opDoesNotExist:
		return !ok
	case opGreaterThan, opLessThan:
		if !ok || len(r.values) != 1 {
			return false
		}
		have, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		want, err := strconv.ParseInt(r.values[0], 10, 64)
		if err != nil {
			return false
		}
		if r.op == opGreaterThan {
			return have > want
		}
		return have < want
	}
	return false
}

func (r *requirement) appendString(b *strings.Builder) {
	if r.op == opDoesNotExist {
		b.WriteByte('!')
	}
	b.WriteString(r.key)
	switch r.op {
	case opExists, opDoesNotExist:
		return
	case opEquals:
		b.WriteByte('=')
	case opDoubleEquals:
		b.WriteString("==")
	case opNotEquals:
		b.WriteString("!=")
	case opGreaterThan:
		b.WriteByte('>')
	case opLessThan:
		b.WriteByte('<')
	case opIn:
		b.WriteString(" in (")
	case opNotIn:
		b.WriteString(" notin (")
	}
	for i, v := range r.values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
	}
	if r.op == opIn || r.op == opNotIn {
		b.WriteByte(')')
	}
}

// newRequirement checks a requirement as Kubernetes' labels.NewRequirement
// does and returns it with its values sorted and deduplicated.
func newRequirement(key string, op selectorOp, values []string) (requirement, error) {
	if msgs := IsQualifiedName(key); len(msgs) != 0 {
		return requirement{}, fmt.Errorf("invalid label key %q: %s", key, strings.Join(msgs, "; "))
	}
	switch op {
	case opIn, opNotIn:
		if len(values) == 0 {
			return requirement{}, fmt.Errorf("key %q: for 'in', 'notin' operators, values set can't be empty", key)
		}
	case opEquals, opDoubleEquals, opNotEquals:
		if len(values) != 1 {
			return requirement{}, fmt.Errorf("key %q: exact-match compatibility requires one single value", key)
		}
	case opExists, opDoesNotExist:
		if len(values) != 0 {
			return requirement{}, fmt.Errorf("key %q: values set must be empty for exists and does not exist", key)
		}
	case opGreaterThan, opLessThan:
		if len(values) != 1 {
			return requirement{}, fmt.Errorf("key %q: for 'Gt', 'Lt' operators, exactly one value is required", key)
		}
		if _, err := strconv.ParseInt(values[0], 10, 64); err != nil {
			return requirement{}, fmt.Errorf("key %q: value %q: for 'Gt', 'Lt' operators, the value must be an integer", key, values[0])
		}
	}
	for _, v := range values {
		if msgs := IsValidLabelValue(v); len(msgs) != 0 {
			return requirement{}, fmt.Errorf("invalid label value %q for key %q: %s", v, key, strings.Join(msgs, "; "))
		}
	}
	vs := slices.Clone(values)
	slices.Sort(vs)
	return requirement{key: key, op: op, values: slices.Compact(vs)}, nil
}

// labelSelector is a compiled selector: requirements ANDed, sorted by key.
type labelSelector []requirement

func newLabelSelector(reqs []requirement) labelSelector {
	slices.SortStableFunc(reqs, func(a, b requirement) int { return strings.Compare(a.key, b.key) })
	return labelSelector(reqs)
}

func (s labelSelector) Matches(labels map[string]string) bool {
	for i := range s {
		if !s[i].matches(labels) {
			return false
		}
	}
	return true
}

func (s labelSelector) Empty() bool { return len(s) == 0 }

func (s labelSelector) String() string {
	var b strings.Builder
	for i := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		s[i].appendString(&b)
	}
	return b.String()
}

// RequiresExactMatch looks only at the first requirement on key, as
// Kubernetes does.
func (s labelSelector) RequiresExactMatch(key string) (string, bool) {
	for i := range s {
		if s[i].key != key {
			continue
		}
		switch s[i].op {
		case opEquals, opDoubleEquals, opIn:
			if len(s[i].values) == 1 {
				return s[i].values[0], true
			}
		}
		return "", false
	}
	return "", false
}

type nothingSelector struct{}

func (nothingSelector) Matches(map[string]string) bool           { return false }
func (nothingSelector) Empty() bool                              { return false }
func (nothingSelector) String() string                           { return "" }
func (nothingSelector) RequiresExactMatch(string) (string, bool) { return "", false }

// Everything returns the selector that matches every set of labels. Its
// string form is "".
func Everything() Selector { return labelSelector(nil) }

// Nothing returns the selector that matches no labels, which is what a nil
// *LabelSelector selects. As in Kubernetes, its String is "", which parses
// back as Everything: do not carry it in string form.
func Nothing() Selector { return nothingSelector{} }

// SelectorFromSet returns the selector requiring every label of set:
// {"app": "web"} selects as "app=web". An empty set gives Everything. The
// keys and values are not checked, as in Kubernetes.
func SelectorFromSet(set map[string]string) Selector {
	if len(set) == 0 {
		return Everything()
	}
	reqs := make([]requirement, 0, len(set))
	for k, v := range set {
		reqs = append(reqs, requirement{key: k, op: opEquals, values: []string{v}})
	}
	return newLabelSelector(reqs)
}

// LabelSelectorAsSelector compiles ls as Kubernetes does: a nil selector
// selects nothing, an empty one selects everything. Keys, values and
// operators are checked.
func LabelSelectorAsSelector(ls *LabelSelector) (Selector, error) {
	if ls == nil {
		return Nothing(), nil
	}
	if len(ls.MatchLabels)+len(ls.MatchExpressions) == 0 {
		return Everything(), nil
	}
	reqs := make([]requirement, 0, len(ls.MatchLabels)+len(ls.MatchExpressions))
	for k, v := range ls.MatchLabels {
		r, err := newRequirement(k, opEquals, []string{v})
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
	}
	for _, e := range ls.MatchExpressions {
		var op selectorOp
		switch e.Operator {
		case LabelSelectorOpIn:
			op = opIn
		case LabelSelectorOpNotIn:
			op = opNotIn
		case LabelSelectorOpExists:
			op = opExists
		case LabelSelectorOpDoesNotExist:
			op = opDoesNotExist
		default:
			return nil, fmt.Errorf("%q is not a valid label selector operator", e.Operator)
		}
		r, err := newRequirement(e.Key, op, e.Values)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
	}
	return newLabelSelector(reqs), nil
}

// AsSelector compiles ls; see LabelSelectorAsSelector.
func (ls *LabelSelector) AsSelector() (Selector, error) { return LabelSelectorAsSelector(ls) }

// ValidateLabelSelector checks a LabelSelector as Kubernetes does: valid
// matchLabels, and for each expression a qualified-name key, values for In
// and NotIn, none for Exists and DoesNotExist, and valid label values. A nil
// selector is valid.
func ValidateLabelSelector(ls *LabelSelector, p *Path) ErrorList {
	if ls == nil {
		return nil
	}
	errs := ValidateLabels(ls.MatchLabels, p.Child("matchLabels"))
	for i, e := range ls.MatchExpressions {
		ep := p.Child("matchExpressions").Index(i)
		switch e.Operator {
		case LabelSelectorOpIn, LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				errs = append(errs, Required(ep.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case LabelSelectorOpExists, LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 {
				errs = append(errs, Forbidden(ep.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		default:
			errs = append(errs, Invalid(ep.Child("operator"), string(e.Operator), "not a valid selector operator"))
		}
		errs = appendMsgs(errs, ep.Child("key"), e.Key, IsQualifiedName(e.Key))
		for j, v := range e.Values {
			errs = appendMsgs(errs, ep.Child("values").Index(j), v, IsValidLabelValue(v))
		}
	}
	return errs
}

// ParseSelector reads a selector in Kubernetes' string form:
//
//	app=web,tier!=db,env in (prod,staging),release notin (canary),legacy,!beta
//
// Requirements are separated by commas and ANDed; whitespace around tokens
// is ignored. "key=value" and "key==value" require the value, "key!=value"
// forbids it, "key in (a,b)" and "key notin (a,b)" test a set, "key"
// requires the label, "!key" forbids it, "key>1" and "key<1" compare
// integers. A value may be empty ("key=", "key in (a,)"). Keys must be
// qualified names and values valid label values. "" selects everything.
func ParseSelector(s string) (Selector, error) {
	p := selectorParser{src: s, toks: lexSelector(s)}
	var reqs []requirement
	for {
		t := p.peek(true)
		switch t.kind {
		case tokEnd:
			return newLabelSelector(reqs), nil
		case tokIdent, tokNot:
		default:
			return nil, p.errorf(t, "found '%s', expected: !, identifier, or 'end of string'", t.lit)
		}
		r, err := p.requirement()
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
		switch t := p.next(true); t.kind {
		case tokEnd:
			return newLabelSelector(reqs), nil
		case tokComma:
			if t := p.peek(true); t.kind != tokIdent && t.kind != tokNot {
				return nil, p.errorf(t, "found '%s', expected: identifier after ','", t.lit)
			}
		default:
			return nil, p.errorf(t, "found '%s', expected: ',' or 'end of string'", t.lit)
		}
	}
}

type tokenKind uint8

const (
	tokEnd tokenKind = iota
	tokIdent
	tokComma
	tokOpen
	tokClose
	tokNot
	tokEquals
	tokDoubleEquals
	tokNotEquals
	tokGreater
	tokLess
	tokIn
	tokNotIn
)

type token struct {
	kind tokenKind
	lit  string
	pos  int
}

func isSelectorSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isSelectorSymbol(c byte) bool {
	switch c {
	case '=', '!', '(', ')', ',', '>', '<':
		return true
	}
	return false
}

// lexSelector splits a selector into tokens, ending with tokEnd. Operators
// are read greedily ("!=" before "!"); any other run of characters up to
// whitespace or an operator is an identifier, checked later as a key or a
// value.
func lexSelector(s string) []token {
	var toks []token
	i := 0
	for {
		for i < len(s) && isSelectorSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return append(toks, token{kind: tokEnd, pos: i})
		}
		start := i
		c := s[i]
		if isSelectorSymbol(c) {
			kind := symbolToken(c)
			i++
			if (c == '=' || c == '!') && i < len(s) && s[i] == '=' {
				i++
				kind = tokDoubleEquals
				if c == '!' {
					kind = tokNotEquals
				}
			}
			toks = append(toks, token{kind: kind, lit: s[start:i], pos: start})
			continue
		}
		for i < len(s) && !isSelectorSpace(s[i]) && !isSelectorSymbol(s[i]) {
			i++
		}
		t := token{kind: tokIdent, lit: s[start:i], pos: start}
		switch t.lit {
		case "in":
			t.kind = tokIn
		case "notin":
			t.kind = tokNotIn
		}
		toks = append(toks, t)
	}
}

func symbolToken(c byte) tokenKind {
	switch c {
	case '=':
		return tokEquals
	case '!':
		return tokNot
	case '(':
		return tokOpen
	case ')':
		return tokClose
	case ',':
		return tokComma
	case '>':
		return tokGreater
	}
	return tokLess
}

type selectorParser struct {
	src  string
	toks []token
	i    int
}

// peek returns the next token without consuming it. Where a value or key
// is expected, "in" and "notin" are plain identifiers.
func (p *selectorParser) peek(value bool) token {
	t := p.toks[p.i]
	if value && (t.kind == tokIn || t.kind == tokNotIn) {
		t.kind = tokIdent
	}
	return t
}

func (p *selectorParser) next(value bool) token {
	t := p.peek(value)
	if t.kind != tokEnd {
		p.i++
	}
	return t
}

func (p *selectorParser) errorf(t token, format string, args ...any) error {
	return fmt.Errorf("unable to parse label selector %q at position %d: %s", p.src, t.pos, fmt.Sprintf(format, args...))
}

func (p *selectorParser) requirement() (requirement, error) {
	t := p.next(true)
	op := selectorOp(0)
	if t.kind == tokNot {
		op = opDoesNotExist
		t = p.next(true)
	}
	if t.kind != tokIdent {
		return requirement{}, p.errorf(t, "found '%s', expected: identifier", t.lit)
	}
	keyTok := t
	if msgs := IsQualifiedName(keyTok.lit); len(msgs) != 0 {
		return requirement{}, p.errorf(keyTok, "invalid label key %q: %s", keyTok.lit, strings.Join(msgs, "; "))
	}
	if op == 0 {
		if n := p.peek(true); n.kind == tokEnd || n.kind == tokComma {
			op = opExists
		}
	}
	var values []string
	if op != opExists && op != opDoesNotExist {
		t = p.next(false)
		switch t.kind {
		case tokIn:
			op = opIn
		case tokNotIn:
			op = opNotIn
		case tokEquals:
			op = opEquals
		case tokDoubleEquals:
			op = opDoubleEquals
		case tokNotEquals:
			op = opNotEquals
		case tokGreater:
			op = opGreaterThan
		case tokLess:
			op = opLessThan
		default:
			return requirement{}, p.errorf(t, "found '%s', expected: %s", t.lit, binaryOperators)
		}
		var err error
		if op == opIn || op == opNotIn {
			values, err = p.valueSet()
		} else {
			values, err = p.exactValue()
		}
		if err != nil {
			return requirement{}, err
		}
	}
	r, err := newRequirement(keyTok.lit, op, values)
	if err != nil {
		return requirement{}, p.errorf(keyTok, "%v", err)
	}
	return r, nil
}

// valueSet reads "(a,b)". Empty entries are empty values: "()" is {""},
// "(a,)" is {"a", ""}.
func (p *selectorParser) valueSet() ([]string, error) {
	if t := p.next(true); t.kind != tokOpen {
		return nil, p.errorf(t, "found '%s', expected: '('", t.lit)
	}
	var values []string
	switch t := p.peek(true); t.kind {
	case tokClose:
		p.next(true)
		return []string{""}, nil
	case tokIdent, tokComma:
	default:
		return nil, p.errorf(t, "found '%s', expected: ',', ')' or identifier", t.lit)
	}
	for {
		t := p.next(true)
		switch t.kind {
		case tokIdent:
			values = append(values, t.lit)
			switch n := p.peek(true); n.kind {
			case tokComma:
			case tokClose:
				p.next(true)
				return values, nil
			default:
				return nil, p.errorf(n, "found '%s', expected: ',' or ')'", n.lit)
			}
		case tokComma:
			if len(values) == 0 {
				values = append(values, "") // "(,"
			}
			switch n := p.peek(true); n.kind {
			case tokClose:
				p.next(true)
				return append(values, ""), nil // ",)"
			case tokComma:
				values = append(values, "") // ",,"
			}
		default:
			return nil, p.errorf(t, "found '%s', expected: ',', or identifier", t.lit)
		}
	}
}

// exactValue reads the value after =, ==, !=, > or <; none is "".
func (p *selectorParser) exactValue() ([]string, error) {
	if t := p.peek(true); t.kind == tokEnd || t.kind == tokComma {
		return []string{""}, nil
	}
	t := p.next(true)
	if t.kind != tokIdent {
		return nil, p.errorf(t, "found '%s', expected: identifier", t.lit)
	}
	return []string{t.lit}, nil
}
