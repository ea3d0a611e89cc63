package objects

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Cases from Kubernetes' own quantity tests and documentation: the input,
// its canonical string and the format it remembers.
var quantityParseCases = []struct {
	in     string
	want   string
	format Format
}{
	{"0", "0", DecimalSI},
	{"0n", "0", DecimalSI},
	{"0m", "0", DecimalSI},
	{"0k", "0", DecimalSI},
	{"0Ki", "0", BinarySI},
	{"0Mi", "0", BinarySI},
	{"0Ti", "0", BinarySI},
	{"0.000", "0", DecimalSI},

	{"1", "1", DecimalSI},
	{"1.5", "1500m", DecimalSI},
	{"0.5", "500m", DecimalSI},
	{"500m", "500m", DecimalSI},
	{"1000m", "1", DecimalSI},
	{"2k", "2k", DecimalSI},
	{"100M", "100M", DecimalSI},
	{"1000M", "1G", DecimalSI},

	// Binary suffixes.
	{"128Mi", "128Mi", BinarySI},
	{"1.5Gi", "1536Mi", BinarySI},
	{"1Ki", "1Ki", BinarySI},
	{"8Ki", "8Ki", BinarySI},
	{"7Mi", "7Mi", BinarySI},
	{"6Gi", "6Gi", BinarySI},
	{"5Ti", "5Ti", BinarySI},
	{"4Pi", "4Pi", BinarySI},
	{"3Ei", "3Ei", BinarySI},
	{"10Ti", "10Ti", BinarySI},
	{"100Ti", "100Ti", BinarySI},
	{"1024Mi", "1Gi", BinarySI},
	{"1.5Ki", "1536", BinarySI},
	{"0.5Ki", "512", BinarySI},
	{"0.5Mi", "512Ki", BinarySI},

	// Decimal suffixes.
	{"5n", "5n", DecimalSI},
	{"4u", "4u", DecimalSI},
	{"3m", "3m", DecimalSI},
	{"9", "9", DecimalSI},
	{"8k", "8k", DecimalSI},
	{"50k", "50k", DecimalSI},
	{"7M", "7M", DecimalSI},
	{"6G", "6G", DecimalSI},
	{"5T", "5T", DecimalSI},
	{"40T", "40T", DecimalSI},
	{"300T", "300T", DecimalSI},
	{"2P", "2P", DecimalSI},
	{"1E", "1E", DecimalSI},
	{"12E", "12E", DecimalSI},
	{"1000E", "1e21", DecimalSI}, // no suffix beyond E: exponent, not "1"

	// Decimal exponents.
	{"1e3", "1e3", DecimalExponent},
	{"1E-3", "1e-3", DecimalExponent},
	{"1E6", "1e6", DecimalExponent},
	{"1e9", "1e9", DecimalExponent},
	{"1E12", "1e12", DecimalExponent},
	{"1e15", "1e15", DecimalExponent},
	{"1E18", "1e18", DecimalExponent},
	{"1e14", "100e12", DecimalExponent},
	{"1e13", "10e12", DecimalExponent},
	{"100.035k", "100035", DecimalSI},

	// Things that look like floating point.
	{"0.001", "1m", DecimalSI},
	{"0.0005k", "500m", DecimalSI},
	{"0.005", "5m", DecimalSI},
	{"0.05", "50m", DecimalSI},
	{"0.00050k", "500m", DecimalSI},
	{"0.00500", "5m", DecimalSI},
	{"0.50000", "500m", DecimalSI},
	{"0.5e0", "500e-3", DecimalExponent},
	{"0.5e-1", "50e-3", DecimalExponent},
	{"0.5e-2", "5e-3", DecimalExponent},
	{"10.035M", "10035k", DecimalSI},
	{"1.2e3", "1200", DecimalExponent},
	{"1.3E+6", "1300e3", DecimalExponent},
	{"1.40e9", "1400e6", DecimalExponent},
	{"1.53E12", "1530e9", DecimalExponent},
	{"1.6e15", "1600e12", DecimalExponent},
	{"1.7E18", "1700e15", DecimalExponent},
	{"9.01", "9010m", DecimalSI},
	{"8.1k", "8100", DecimalSI},
	{"7.123456M", "7123456", DecimalSI},
	{"6.987654321G", "6987654321", DecimalSI},
	{"5.444T", "5444G", DecimalSI},
	{"40.1T", "40100G", DecimalSI},
	{"300.2T", "300200G", DecimalSI},
	{"2.5P", "2500T", DecimalSI},
	{"1.01E", "1010P", DecimalSI},
	{"1.2345", "1234500u", DecimalSI},

	// Things that round up to nano or saturate.
	{"1n", "1n", DecimalSI},
	{"3.001n", "4n", DecimalSI},
	{"1.1E-9", "2e-9", DecimalExponent},
	{"0.0000000001", "1n", DecimalSI},
	{"0.0000000005", "1n", DecimalSI},
	{"0.00000000050", "1n", DecimalSI},
	{"0.5e-9", "1e-9", DecimalExponent},
	{"0.9n", "1n", DecimalSI},
	{"0.00000012345", "124n", DecimalSI},
	{"0.00000012354", "124n", DecimalSI},
	{"1e-2147483647", "1e-9", DecimalExponent},
	{"9Ei", "9223372036854775807", BinarySI},
	{"9223372036854775807Ki", "9223372036854775807", BinarySI},

	// Fractional binary values.
	{"100.035Ki", "102435840m", BinarySI},
	{"0.05Gi", "53687091200m", BinarySI},
	{"0.025Ti", "27487790694400m", BinarySI},
	{".001Ki", "1024m", BinarySI},
	{".000001Ki", "1024u", DecimalSI},
	{".000000001Ki", "1024n", DecimalSI},
	{".000000000001Ki", "2n", DecimalSI}, // rounds up, changes format

	// Written by trolls, accepted by Kubernetes.
	{".001", "1m", DecimalSI},
	{".0001k", "100m", DecimalSI},
	{"1.", "1", DecimalSI},
	{"1.G", "1G", DecimalSI},
	{".", "0", DecimalSI},
	{"-", "0", DecimalSI},
	{"+", "0", DecimalSI},
	{"-0", "0", DecimalSI},
	{"00012", "12", DecimalSI},

	// Beyond int64.
	{"9223372036854775808", "9223372036854775808", DecimalSI},
	{"18446744073709551616", "18446744073709551616", DecimalSI},
	{"123456789012345678901234567890", "123456789012345678901234567890", DecimalSI},
	{"1.000000000000000000001", "1000000001n", DecimalSI},
	{"1e2147483647", "10e2147483646", DecimalExponent},
}

func TestParseQuantity(t *testing.T) {
	for _, c := range quantityParseCases {
		t.Run(c.in, func(t *testing.T) {
			q, err := ParseQuantity(c.in)
			require.NoError(t, err)
			assert.Equal(t, c.want, q.String())
			assert.Equal(t, c.format, q.Format())

			// The canonical form parses back to the same value.
			back, err := ParseQuantity(q.String())
			require.NoError(t, err)
			assert.Zero(t, back.Cmp(q), "%s re-parsed as %s", q, back)
			assert.Equal(t, c.want, back.String())

			if q.IsZero() {
				return
			}
			for _, sign := range []string{"-", "+"} {
				signed, err := ParseQuantity(sign + c.in)
				require.NoError(t, err)
				want := c.want
				if sign == "-" {
					want = "-" + want
					assert.Equal(t, -q.Sign(), signed.Sign())
				}
				assert.Equal(t, want, signed.String())
				assert.Equal(t, c.format, signed.Format())
			}
		})
	}
}

func TestParseQuantityErrors(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"", ErrFormatWrong},
		{"1.1.M", ErrFormatWrong},
		{"1+1.0M", ErrFormatWrong},
		{"0.1am", ErrFormatWrong},
		{"aoeu", ErrFormatWrong},
		{" 1", ErrFormatWrong},
		{"1 ", ErrFormatWrong},
		{"1,5", ErrFormatWrong},
		{"1e3i", ErrFormatWrong},
		{"Non-Numeric", ErrFormatWrong},
		{"0.1mi", ErrSuffix},
		{".5i", ErrSuffix},
		{"1i", ErrSuffix},
		{"-3.01i", ErrSuffix},
		{"-3.01e-", ErrSuffix},
		{"1e", ErrSuffix},
		{"1ee3", ErrSuffix},
		{"1Ki3", ErrSuffix},
		{"1KiB", ErrFormatWrong},
		{"1kb", ErrFormatWrong},
		{"1K", ErrSuffix},
		{"1e4294967297", ErrSuffix},
		{"1e2147483648", ErrSuffix},
		{"1E-2147483648", ErrSuffix},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := ParseQuantity(c.in)
			require.ErrorIs(t, err, c.want)
		})
	}
	assert.Equal(t, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", ErrFormatWrong.Error())
	assert.Equal(t, "unable to parse quantity's suffix", ErrSuffix.Error())
	_, err := ParseQuantity("1GB")
	assert.EqualError(t, err, `invalid quantity "1GB": `+ErrFormatWrong.Error())
	assert.PanicsWithValue(t, `cannot parse 'Non-Numeric': invalid quantity "Non-Numeric": `+ErrFormatWrong.Error(), func() { MustParseQuantity("Non-Numeric") })
}

func TestQuantityIsSmall(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(Quantity{}), uintptr(24))
}

func TestQuantityCmp(t *testing.T) {
	cases := []struct {
		x, y string
		want int
	}{
		{"0", "0", 0},
		{"0", "-0", 0},
		{"0Mi", "0m", 0},
		{"100m", "50m", 1},
		{"50m", "100m", -1},
		{"10000T", "100Gi", 1},
		{"1.5Gi", "1536Mi", 0},
		{"0.5", "500m", 0},
		{"1e3", "1k", 0},
		{"1000m", "1", 0},
		{"1Ki", "1k", 1},
		{"1Ki", "1024", 0},
		{"1n", "0", 1},
		{"-1n", "0", -1},
		{"-1", "1", -1},
		{"-2", "-1", -1},
		{"-1.5", "-1500m", 0},
		{"1E", "1e18", 0},
		{"8Ei", "9223372036854775807", 0}, // capped
		{"9223372036854775808", "9223372036854775807", 1},
		{"-9223372036854775809", "-9223372036854775808", -1},
		{"123456789012345678901234567890", "123456789012345678901234567891", -1},
		{"1e30", "999999999999999999999999999999", 1},
		{"1e30", "1000000000000000000000000000000", 0},
		{"1e2147483647", "1e2147483646", 1},
		{"-1e2147483647", "1", -1},
		{"1e-2147483647", "1n", 0},
		{"1e20", "99999999999999999999m", 1},
		{"1.000000000000000000001", "1", 1},
	}
	for _, c := range cases {
		x, y := MustParseQuantity(c.x), MustParseQuantity(c.y)
		assert.Equal(t, c.want, x.Cmp(y), "Cmp(%s, %s)", c.x, c.y)
		assert.Equal(t, -c.want, y.Cmp(x), "Cmp(%s, %s)", c.y, c.x)
		assert.Equal(t, c.want == 0, x.Equal(y), "Equal(%s, %s)", c.x, c.y)
	}
}

// Scaled values at the int64 edges, from Kubernetes' Cmp tests.
func TestQuantityCmpScaled(t *testing.T) {
	cases := []struct {
		a, b Quantity
		want int
	}{
		{NewScaledQuantity(901, -2), NewScaledQuantity(901, -2), 0},
		{NewScaledQuantity(90, -1), NewScaledQuantity(901, -2), -1},
		{NewScaledQuantity(0, 1), NewScaledQuantity(0, -1), 0},
		{NewScaledQuantity(800, -3), NewScaledQuantity(79, -2), 1},
		{NewScaledQuantity(math.MaxInt64, 0), NewScaledQuantity(1, -1), 1},
		{NewScaledQuantity(math.MaxInt64, 1), NewScaledQuantity(1, 1), 1},
		{NewScaledQuantity(math.MaxInt64, -16), NewScaledQuantity(1, 3), -1},
		{NewScaledQuantity(math.MinInt64, 0), NewScaledQuantity(0, 0), -1},
		{NewScaledQuantity(math.MinInt64, -18), NewScaledQuantity(-1, 0), -1},
		{NewScaledQuantity(math.MinInt64, -19), NewScaledQuantity(-1, 0), 1},
		{NewScaledQuantity(1e18, -17), NewScaledQuantity(1, 1), 0},
		{NewScaledQuantity(-1e18, -17), NewScaledQuantity(-10, 0), 0},
		{NewScaledQuantity(1e18+1, -17), NewScaledQuantity(1, 1), 1},
		{NewScaledQuantity(1e18-1, -17), NewScaledQuantity(1, 1), -1},
		{NewScaledQuantity(1, math.MaxInt32), NewScaledQuantity(math.MaxInt64, 0), 1},
		{NewScaledQuantity(-1, math.MaxInt32), NewScaledQuantity(math.MinInt64, 0), -1},
	}
	for i, c := range cases {
		assert.Equal(t, c.want, c.a.Cmp(c.b), "case %d: Cmp(%s, %s)", i, c.a, c.b)
		assert.Equal(t, -c.want, c.b.Cmp(c.a), "case %d: Cmp(%s, %s)", i, c.b, c.a)
	}
	assert.Equal(t, 1, MustParseQuantity("1025").CmpInt64(1024))
	assert.Equal(t, 0, MustParseQuantity("1Ki").CmpInt64(1024))
	assert.Equal(t, -1, MustParseQuantity("1023.999").CmpInt64(1024))
}

func TestQuantityValue(t *testing.T) {
	cases := []struct {
		in           string
		value, milli int64
	}{
		{"0", 0, 0},
		{"1", 1, 1000},
		{"-1", -1, -1000},
		{"0.1", 1, 100},
		{"100m", 1, 100},
		{"1n", 1, 1},
		{"-1n", -1, -1},
		{"1500m", 2, 1500},
		{"-1500m", -2, -1500},
		{"0.0005", 1, 1},
		{"-0.0005", -1, -1},
		{".484785E-1", 1, 49},
		{"-.484785E-1", -1, -49},
		{".484785E-7466", 1, 1},
		{"-.484785E-7466", -1, -1},
		{"128Mi", 134217728, 134217728000},
		{"1.5Gi", 1610612736, 1610612736000},
		{"9.5000000001Gi", 10200547329, 10200547328108},
		{"-9.5000000001Gi", -10200547329, -10200547328108},
		{"2k", 2000, 2000000},
		{"1e3", 1000, 1000000},
		{"9223372036854775807", math.MaxInt64, math.MaxInt64},
		{"9223372036854775808", math.MaxInt64, math.MaxInt64},
		{"1e30", math.MaxInt64, math.MaxInt64},
		{"-1e30", math.MinInt64, math.MinInt64},
		{"1e2147483647", math.MaxInt64, math.MaxInt64},
		{"9223372036854775.807", 9223372036854776, math.MaxInt64},
		{"9223372036854775.808", 9223372036854776, math.MaxInt64},
		{"123456789012345678901234567890n", math.MaxInt64, math.MaxInt64},
		{"1234567890123456789012345678n", 1234567890123456790, math.MaxInt64},
		{"-1234567890123456789012345678n", -1234567890123456790, math.MinInt64},
	}
	for _, c := range cases {
		q := MustParseQuantity(c.in)
		assert.Equal(t, c.value, q.Value(), "%s.Value()", c.in)
		assert.Equal(t, c.milli, q.MilliValue(), "%s.MilliValue()", c.in)
	}
}

func TestQuantityScaledValue(t *testing.T) {
	cases := []struct {
		from, to Scale
		want     int64
	}{
		{Nano, Nano, 1},
		{Nano, Micro, 1},
		{Nano, Milli, 1},
		{Nano, 0, 1},
		{Micro, Nano, 1000},
		{Micro, Micro, 1},
		{Micro, Milli, 1},
		{Micro, 0, 1},
		{Milli, Nano, 1000 * 1000},
		{Milli, Micro, 1000},
		{Milli, Milli, 1},
		{Milli, 0, 1},
		{0, Nano, 1000 * 1000 * 1000},
		{0, Micro, 1000 * 1000},
		{0, Milli, 1000},
		{0, 0, 1},
		{2, -2, 100 * 100},
		{Exa, Nano, math.MaxInt64},
		{Nano, Exa, 1},
	}
	for _, c := range cases {
		q := NewScaledQuantity(1, c.from)
		assert.Equal(t, c.want, q.ScaledValue(c.to), "%d to %d", c.from, c.to)
	}
	assert.Equal(t, int64(2), MustParseQuantity("1500M").ScaledValue(Giga))
	assert.Equal(t, int64(-2), MustParseQuantity("-1500M").ScaledValue(Giga))
}

func TestQuantityAsInt64(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1k": 1000, "128Mi": 134217728, "-3": -3} {
		v, ok := MustParseQuantity(in).AsInt64()
		assert.True(t, ok, in)
		assert.Equal(t, want, v, in)
	}
	for _, in := range []string{"1500m", "1n", "9223372036854775808", "1e19"} {
		_, ok := MustParseQuantity(in).AsInt64()
		assert.False(t, ok, in)
	}
}

func TestQuantityAsApproximateFloat64(t *testing.T) {
	cases := []struct {
		in   string
		want float64
	}{
		{"0", 0},
		{"0.5", 0.5},
		{"-100m", -0.1},
		{"1.5Gi", 1610612736},
		{"1e3", 1000},
		{"1n", 1e-9},
		{"123456789012345678901234567890", 1.2345678901234568e29},
		{"123456789012345678901234567890n", 1.2345678901234568e20},
		{"1e400", math.Inf(1)},
		{"-1e400", math.Inf(-1)},
	}
	for _, c := range cases {
		assert.InEpsilon(t, 1, ratio(c.want, MustParseQuantity(c.in).AsApproximateFloat64()), 1e-12, c.in)
	}
}

func ratio(want, got float64) float64 {
	if want == got {
		return 1
	}
	return got / want
}

func TestQuantityArithmetic(t *testing.T) {
	cases := []struct {
		a, b, sum, diff string
	}{
		{"1", "500m", "1500m", "500m"},
		{"1Gi", "512Mi", "1536Mi", "512Mi"},
		{"100m", "0", "100m", "100m"},
		{"0", "100m", "100m", "-100m"},
		{"0", "1Gi", "1Gi", "-1Gi"},
		{"1Gi", "0", "1Gi", "1Gi"},
		{"10", "1Mi", "1048586", "-1048566"},
		{"2k", "1e3", "3k", "1k"},
		{"1n", "1", "1000000001n", "-999999999n"},
		{"2Ei", "2Ei", "4Ei", "0"},
		{"9223372036854775807", "1", "9223372036854775808", "9223372036854775806"},
		{"-9223372036854775808", "1", "-9223372036854775807", "-9223372036854775809"},
		{"100000000000000000000", "1n", "100000000000000000000000000001n", "99999999999999999999999999999n"},
		{"1e20", "1n", "100000000000000000000000000001e-9", "99999999999999999999999999999e-9"},
		{"123456789012345678901234567890", "-123456789012345678901234567890", "0", "246913578024691357802469135780"},
	}
	for _, c := range cases {
		a, b := MustParseQuantity(c.a), MustParseQuantity(c.b)
		sum := a
		sum.Add(b)
		assert.Equal(t, c.sum, sum.String(), "%s + %s", c.a, c.b)
		assert.Zero(t, MustParseQuantity(c.sum).Cmp(sum), "%s + %s", c.a, c.b)
		diff := a
		diff.Sub(b)
		assert.Equal(t, c.diff, diff.String(), "%s - %s", c.a, c.b)
		// The operands are untouched and the results are canonical.
		assert.Equal(t, MustParseQuantity(c.a), a)
		assert.Equal(t, MustParseQuantity(c.b), b)
		sum.Sub(b)
		assert.Zero(t, sum.Cmp(a))
	}
}

func TestQuantityAddKeepsSuffix(t *testing.T) {
	zero := MustParseQuantity("0")
	for _, s := range []string{"100m", "1Gi", "1e3", "2k"} {
		v := MustParseQuantity(s)
		v1 := v
		v1.Add(zero)
		assert.Equal(t, s, v1.String())
		v2 := zero
		v2.Add(v)
		assert.Equal(t, s, v2.String())
		v3 := zero
		v3.Sub(v)
		assert.Equal(t, "-"+s, v3.String())
	}
	var sum Quantity
	for range 3 {
		sum.Add(MustParseQuantity("512Mi"))
	}
	assert.Equal(t, "1536Mi", sum.String())
	assert.Equal(t, BinarySI, sum.Format())

	// Parsing caps binary values at 2^63-1; arithmetic does not.
	eight := MustParseQuantity("4Ei")
	eight.Add(MustParseQuantity("4Ei"))
	assert.Equal(t, "8Ei", eight.String())
	assert.Equal(t, 1, eight.Cmp(MustParseQuantity("8Ei")))
}

func TestQuantityNeg(t *testing.T) {
	q := MustParseQuantity("9.01")
	n := q
	n.Neg()
	assert.Equal(t, "-9010m", n.String())
	assert.Equal(t, "9010m", q.String())

	min := NewQuantity(math.MinInt64, DecimalSI)
	min.Neg()
	assert.Equal(t, "9223372036854775808", min.String())
	_, ok := min.AsInt64()
	assert.False(t, ok)
	min.Neg()
	assert.Equal(t, NewQuantity(math.MinInt64, DecimalSI), min)

	milli := NewMilliQuantity(math.MinInt64, DecimalSI)
	milli.Neg()
	assert.Equal(t, "9223372036854775808m", milli.String())

	var zero Quantity
	zero.Neg()
	assert.True(t, zero.IsZero())
	assert.Equal(t, 0, zero.Sign())
}

func TestQuantityBeyondEi(t *testing.T) {
	// Grown past Ei by arithmetic, a binary quantity has no suffix and is
	// printed exactly in decimal, as newer Kubernetes does.
	var q Quantity
	ei := MustParseQuantity("1Ei")
	for range 1024 {
		q.Add(ei)
	}
	assert.Equal(t, "1180591620717411303424", q.String()) // 2^70
	back := MustParseQuantity(q.String())
	assert.Zero(t, back.Cmp(q))

	assert.Equal(t, "10e69", NewScaledQuantity(1, 70).String())
	q = NewQuantity(1, BinarySI)
	q.Add(NewScaledQuantity(1, 70))
	q.Sub(NewQuantity(1, DecimalSI))
	assert.Equal(t, BinarySI, q.Format())
	assert.Equal(t, "10e69", q.String())
}

func TestQuantityConstructors(t *testing.T) {
	cases := []struct {
		q    Quantity
		want string
	}{
		{NewQuantity(1, DecimalSI), "1"},
		{NewQuantity(1000, DecimalSI), "1k"},
		{NewQuantity(1234000, DecimalSI), "1234k"},
		{NewQuantity(1024, BinarySI), "1Ki"},
		{NewQuantity(1000000, "invalidFormatDefaultsToExponent"), "1e6"},
		{NewQuantity(1024*1024, BinarySI), "1Mi"},
		{NewQuantity(2000, BinarySI), "2000"},
		{NewQuantity(-2000, BinarySI), "-2000"},
		{NewMilliQuantity(1, DecimalSI), "1m"},
		{NewMilliQuantity(1000, DecimalSI), "1"},
		{NewMilliQuantity(1234000, DecimalSI), "1234"},
		{NewMilliQuantity(1024, BinarySI), "1024m"},
		{NewMilliQuantity(1000000, "invalidFormatDefaultsToExponent"), "1e3"},
		{NewMilliQuantity(1024*1024, BinarySI), "1048576m"},
		{NewScaledQuantity(1, Nano), "1n"},
		{NewScaledQuantity(1000, Nano), "1u"},
		{NewScaledQuantity(1, Micro), "1u"},
		{NewScaledQuantity(1000, Micro), "1m"},
		{NewScaledQuantity(1000, Milli), "1"},
		{NewScaledQuantity(0, Nano), "0"},
		{NewScaledQuantity(1, 21), "1e21"},
		{NewScaledQuantity(1, -12), "1e-12"},
		{NewScaledQuantity(1, -10), "100e-12"},
		{NewScaledQuantity(1080, -9), "1080n"},
		{NewScaledQuantity(108, -8), "1080n"},
		{NewScaledQuantity(10800, -10), "1080n"},
		{NewScaledQuantity(1234567, 6), "1234567M"},
		{Quantity{}, "0"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.q.String())
	}
}

func TestQuantityCanonicalRepresentation(t *testing.T) {
	// Equal values in the same format are the same Go value, so == and
	// reflect.DeepEqual (and so assert.Equal on whole objects) work after a
	// round trip through the canonical string.
	assert.Equal(t, MustParseQuantity("0.5"), MustParseQuantity("500m"))
	assert.True(t, MustParseQuantity("1000m") == MustParseQuantity("1"))
	assert.True(t, MustParseQuantity("1.5Gi") == MustParseQuantity("1536Mi"))
	assert.True(t, MustParseQuantity("2k") == NewQuantity(2000, DecimalSI))
	sum := MustParseQuantity("1")
	sum.Add(MustParseQuantity("500m"))
	assert.True(t, sum == MustParseQuantity("1.5"))

	for _, c := range quantityParseCases {
		q := MustParseQuantity(c.in)
		back := MustParseQuantity(q.String())
		if q.Format() == back.Format() {
			assert.Equal(t, q, back, c.in)
		}
	}
}

func TestQuantityJSON(t *testing.T) {
	type spec struct {
		Requests ResourceList `json:"requests"`
		Limit    Quantity     `json:"limit"`
		Ptr      *Quantity    `json:"ptr,omitempty"`
	}
	in := `{"requests": {"cpu": 2, "memory": "128Mi", "ephemeral-storage": 1500,
		"example.com/gpu": " 1 "}, "limit": "0.5", "ptr": -1}`
	var s spec
	require.NoError(t, json.Unmarshal([]byte(in), &s))
	assert.Equal(t, "2", s.Requests.Cpu().String())
	assert.Equal(t, int64(2000), s.Requests.Cpu().MilliValue())
	assert.Equal(t, "128Mi", s.Requests.Memory().String())
	assert.Equal(t, "1500", s.Requests.StorageEphemeral().String())
	assert.Equal(t, "1", s.Requests.Name("example.com/gpu", DecimalSI).String())
	assert.Equal(t, "500m", s.Limit.String())
	require.NotNil(t, s.Ptr)
	assert.Equal(t, "-1", s.Ptr.String())

	out, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"requests": {"cpu": "2", "memory": "128Mi", "ephemeral-storage": "1500",
		"example.com/gpu": "1"}, "limit": "500m", "ptr": "-1"}`, string(out))
	var back spec
	require.NoError(t, json.Unmarshal(out, &back))
	assert.Equal(t, s, back)

	var q Quantity
	for _, bad := range []string{`"abc"`, `true`, `{}`, `[]`, `"1 2"`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &q), bad)
	}
	q = MustParseQuantity("5")
	require.NoError(t, json.Unmarshal([]byte(`null`), &q))
	assert.True(t, q.IsZero())

	for in, want := range map[string]string{`" 1"`: "1", `"1 "`: "1", `1`: "1", ` 1`: "1",
		`1 `: "1", `10`: "10", `-1`: "-1", ` -1`: "-1", `"\u0031Ki"`: "1Ki", `1.5e3`: "1500",
		`0.25`: "250m", `-2E-3`: "-2e-3"} {
		var q Quantity
		require.NoError(t, q.UnmarshalJSON([]byte(in)), in)
		assert.Equal(t, want, q.String(), in)
	}

	text, err := MustParseQuantity("1.5Gi").MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "1536Mi", string(text))
	require.NoError(t, q.UnmarshalText([]byte("2k")))
	assert.Equal(t, "2k", q.String())
	assert.ErrorIs(t, q.UnmarshalText([]byte("2x")), ErrFormatWrong)
}

func TestResourceList(t *testing.T) {
	rl := ResourceList{
		ResourceCPU:     MustParseQuantity("500m"),
		ResourceMemory:  MustParseQuantity("1Gi"),
		ResourceStorage: MustParseQuantity("10Gi"),
		ResourcePods:    MustParseQuantity("110"),
	}
	assert.Equal(t, int64(500), rl.Cpu().MilliValue())
	assert.Equal(t, int64(1<<30), rl.Memory().Value())
	assert.Equal(t, "10Gi", rl.Storage().String())
	assert.Equal(t, int64(110), rl.Pods().Value())
	assert.True(t, rl.StorageEphemeral().IsZero())
	assert.Equal(t, BinarySI, rl.StorageEphemeral().Format())

	var empty ResourceList
	assert.True(t, empty.Cpu().IsZero())
	assert.Equal(t, DecimalSI, empty.Cpu().Format())
	assert.Equal(t, BinarySI, empty.Memory().Format())
	assert.Equal(t, DecimalSI, empty.Pods().Format())

	cp := rl.DeepCopy()
	assert.Equal(t, rl, cp)
	q := cp[ResourceCPU]
	q.Add(MustParseQuantity("1"))
	cp[ResourceCPU] = q
	assert.Equal(t, "500m", rl.Cpu().String())
	assert.Equal(t, "1500m", cp.Cpu().String())
}

func TestQuantityDeepCopy(t *testing.T) {
	big := MustParseQuantity("123456789012345678901234567890")
	cp := big.DeepCopy()
	cp.Add(MustParseQuantity("1"))
	assert.Equal(t, "123456789012345678901234567890", big.String())
	var into Quantity
	big.DeepCopyInto(&into)
	into.Neg()
	assert.Equal(t, "123456789012345678901234567890", big.String())
	assert.Equal(t, "-123456789012345678901234567890", into.String())
}

func TestQuantityHotPathsDoNotAllocate(t *testing.T) {
	a, b := MustParseQuantity("500m"), MustParseQuantity("2Gi")
	allocs := testing.AllocsPerRun(100, func() {
		q, err := ParseQuantity("1500m")
		if err != nil {
			panic(err)
		}
		q.Add(a)
		q.Sub(b)
		_ = q.Cmp(b) + int(q.MilliValue()) + int(q.Value())
		if _, err := ParseQuantity("128Mi"); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
}

func FuzzParseQuantity(f *testing.F) {
	for _, c := range quantityParseCases {
		f.Add(c.in)
	}
	for _, s := range []string{"", "1.1.M", "0.1mi", "-3.01e-", "1e4294967297", "1Ki3",
		"-9223372036854775808", "99999999999999999999999Ei", "0.0000000000000000000000001Ki"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuantity(s)
		if err != nil {
			if !errors.Is(err, ErrFormatWrong) && !errors.Is(err, ErrSuffix) {
				t.Fatalf("ParseQuantity(%q): unexpected error %v", s, err)
			}
			return
		}
		canon := q.String()
		back, err := ParseQuantity(canon)
		if err != nil {
			t.Fatalf("ParseQuantity(%q) = %s, which does not parse: %v", s, canon, err)
		}
		if back.Cmp(q) != 0 || q.Cmp(back) != 0 {
			t.Fatalf("ParseQuantity(%q) = %s, which parses as %s", s, canon, back)
		}
		if again := back.String(); again != canon {
			t.Fatalf("ParseQuantity(%q) = %s, whose canonical form is %s", s, canon, again)
		}
		if q.Format() == back.Format() && (q.big == nil) == (back.big == nil) && q.big == nil && q != back {
			t.Fatalf("ParseQuantity(%q) = %#v, canonical %s parses as %#v", s, q, canon, back)
		}
		if strings.HasPrefix(canon, "-") != (q.Sign() < 0) {
			t.Fatalf("ParseQuantity(%q) = %s with sign %d", s, canon, q.Sign())
		}
		js, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON Quantity
		if err := json.Unmarshal(js, &fromJSON); err != nil || fromJSON.Cmp(q) != 0 {
			t.Fatalf("JSON round trip of %s via %s: %s, %v", canon, js, fromJSON, err)
		}
		n := q
		n.Neg()
		if n.Sign() != -q.Sign() || (q.Sign() != 0 && n.Cmp(q) == 0) {
			t.Fatalf("Neg(%s) = %s", canon, n)
		}
		twice := q
		twice.Add(q)
		twice.Sub(q)
		if twice.Cmp(q) != 0 {
			t.Fatalf("%s + %s - %s = %s", canon, canon, canon, twice)
		}
		v, m := q.Value(), q.MilliValue()
		if (v > 0) != (q.Sign() > 0) || (m < 0) != (q.Sign() < 0) {
			t.Fatalf("%s: Value %d, MilliValue %d, Sign %d", canon, v, m, q.Sign())
		}
	})
}

var benchQuantitySink int64

func BenchmarkParseQuantity(b *testing.B) {
	for _, s := range []string{"500m", "128Mi", "1.5Gi", "2", "1e3", "123456789012345678901234567890"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q, err := ParseQuantity(s)
				if err != nil {
					b.Fatal(err)
				}
				benchQuantitySink += q.small
			}
		})
	}
}

func BenchmarkQuantityCmp(b *testing.B) {
	x, y := MustParseQuantity("500m"), MustParseQuantity("2")
	b.ReportAllocs()
	for b.Loop() {
		benchQuantitySink += int64(x.Cmp(y))
	}
}

func BenchmarkQuantityAdd(b *testing.B) {
	reqs := []Quantity{MustParseQuantity("100m"), MustParseQuantity("250m"), MustParseQuantity("1"), MustParseQuantity("1.5")}
	b.ReportAllocs()
	for b.Loop() {
		var sum Quantity
		for _, r := range reqs {
			sum.Add(r)
		}
		benchQuantitySink += sum.small
	}
}

func BenchmarkQuantityMilliValue(b *testing.B) {
	qs := []Quantity{MustParseQuantity("100m"), MustParseQuantity("2"), MustParseQuantity("128Mi")}
	b.ReportAllocs()
	for b.Loop() {
		for _, q := range qs {
			benchQuantitySink += q.MilliValue()
		}
	}
}

func BenchmarkQuantityString(b *testing.B) {
	q := MustParseQuantity("1.5Gi")
	b.ReportAllocs()
	for b.Loop() {
		benchQuantitySink += int64(len(q.String()))
	}
}

func ExampleParseQuantity() {
	cpu := MustParseQuantity("0.5")
	mem, err := ParseQuantity("1.5Gi")
	if err != nil {
		panic(err)
	}
	fmt.Println(cpu, cpu.MilliValue(), cpu.Cmp(MustParseQuantity("500m")))
	fmt.Println(mem, mem.Value())

	total := MustParseQuantity("250m")
	total.Add(cpu)
	fmt.Println(total)
	// Output:
	// 500m 500 0
	// 1536Mi 1610612736
	// 750m
}
