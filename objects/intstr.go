package objects

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// IntOrString holds an int32 or a string, as Kubernetes' intstr.IntOrString
// does for ports ("http" or 8080) and for maxSurge/maxUnavailable ("25%" or
// 1). In JSON it is a bare number or a string.
type IntOrString struct {
	Type   IntOrStringType
	IntVal int32
	StrVal string
}

// IntOrStringType tells which of the two values an IntOrString holds.
type IntOrStringType int64

// The two kinds of IntOrString.
const (
	IntType    IntOrStringType = iota // IntVal is set
	StringType                        // StrVal is set
)

// FromInt32 returns an IntOrString holding i.
func FromInt32(i int32) IntOrString { return IntOrString{Type: IntType, IntVal: i} }

// FromString returns an IntOrString holding s.
func FromString(s string) IntOrString { return IntOrString{Type: StringType, StrVal: s} }

// String returns the value as written: "8080" or "http".
func (v *IntOrString) String() string {
	if v == nil {
		return "<nil>"
	}
	if v.Type == StringType {
		return v.StrVal
	}
	return strconv.Itoa(int(v.IntVal))
}

// IntValue returns the int value, or the string parsed as an int (0 when it
// is not a number), as Kubernetes does.
func (v *IntOrString) IntValue() int {
	if v.Type == StringType {
		i, _ := strconv.Atoi(v.StrVal)
		return i
	}
	return int(v.IntVal)
}

// IsZero reports whether v is the int 0 or the empty string: unset.
func (v IntOrString) IsZero() bool {
	return (v.Type == IntType && v.IntVal == 0) || (v.Type == StringType && v.StrVal == "")
}

// MarshalJSON implements json.Marshaler.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	switch v.Type {
	case IntType:
		return json.Marshal(v.IntVal)
	case StringType:
		return json.Marshal(v.StrVal)
	}
	return nil, fmt.Errorf("impossible IntOrString.Type %d", v.Type)
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		v.Type, v.IntVal = StringType, 0
		return json.Unmarshal(b, &v.StrVal)
	}
	v.Type, v.StrVal = IntType, ""
	return json.Unmarshal(b, &v.IntVal)
}

// Rounding says which way a scaled percentage is rounded.
type Rounding int

// Rounding directions for GetScaledValueFromIntOrPercent.
const (
	RoundDown Rounding = iota
	RoundUp
)

// GetScaledValueFromIntOrPercent returns v itself when it is an int, or the
// percentage v ("25%") of total rounded as r says, as Kubernetes'
// function of the same name does (maxSurge rounds up, maxUnavailable down).
func GetScaledValueFromIntOrPercent(v *IntOrString, total int, r Rounding) (int, error) {
	if v == nil {
		return 0, errors.New("nil value for IntOrString")
	}
	switch v.Type {
	case IntType:
		return int(v.IntVal), nil
	case StringType:
		s, ok := strings.CutSuffix(v.StrVal, "%")
		if !ok {
			return 0, fmt.Errorf("invalid value for IntOrString: invalid type: string is not a percentage")
		}
		p, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("invalid value for IntOrString: invalid value %q: %w", v.StrVal, err)
		}
		n := int64(p) * int64(total)
		q := n / 100
		if n%100 != 0 {
			// Go truncates toward zero; adjust to floor or ceiling.
			if r == RoundUp && n > 0 {
				q++
			} else if r == RoundDown && n < 0 {
				q--
			}
		}
		return int(q), nil
	}
	return 0, fmt.Errorf("invalid value for IntOrString: invalid type: neither int nor percentage")
}
