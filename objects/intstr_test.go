package objects

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntOrString(t *testing.T) {
	for _, tc := range []struct {
		json string
		v    IntOrString
		s    string
	}{
		{`8080`, FromInt32(8080), "8080"},
		{`"http"`, FromString("http"), "http"},
		{`"25%"`, FromString("25%"), "25%"},
	} {
		var v IntOrString
		require.NoError(t, json.Unmarshal([]byte(tc.json), &v))
		assert.Equal(t, tc.v, v)
		assert.Equal(t, tc.s, v.String())
		b, err := json.Marshal(v)
		require.NoError(t, err)
		assert.Equal(t, tc.json, string(b))
	}
	var v IntOrString
	assert.Error(t, json.Unmarshal([]byte(`true`), &v))
	assert.Equal(t, 42, ptrOf(FromString("42")).IntValue())
	assert.True(t, FromInt32(0).IsZero())
	assert.True(t, FromString("").IsZero())
	assert.False(t, FromString("0").IsZero())
}

func TestGetScaledValueFromIntOrPercent(t *testing.T) {
	cases := []struct {
		v     IntOrString
		total int
		r     Rounding
		want  int
		err   bool
	}{
		{FromInt32(3), 10, RoundUp, 3, false},
		{FromString("25%"), 10, RoundUp, 3, false},
		{FromString("25%"), 10, RoundDown, 2, false},
		{FromString("25%"), 4, RoundUp, 1, false},
		{FromString("25%"), 4, RoundDown, 1, false},
		{FromString("0%"), 10, RoundUp, 0, false},
		{FromString("100%"), 7, RoundDown, 7, false},
		{FromString("33%"), 1, RoundDown, 0, false},
		{FromString("33%"), 1, RoundUp, 1, false},
		{FromString("25"), 10, RoundUp, 0, true},
		{FromString("x%"), 10, RoundUp, 0, true},
	}
	for _, tc := range cases {
		got, err := GetScaledValueFromIntOrPercent(&tc.v, tc.total, tc.r)
		if tc.err {
			assert.Error(t, err, tc.v.String())
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%s of %d", tc.v.String(), tc.total)
	}
	_, err := GetScaledValueFromIntOrPercent(nil, 1, RoundUp)
	assert.Error(t, err)
}
