package objects

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// Format is how a Quantity is written: with a decimal SI suffix ("500m",
// "2k"), a binary SI suffix ("128Mi") or a decimal exponent ("1e3").
type Format string

// Quantity formats, named as in Kubernetes.
const (
	DecimalExponent Format = "DecimalExponent" // 12e6
	BinarySI        Format = "BinarySI"        // 12Mi (12 * 2^20)
	DecimalSI       Format = "DecimalSI"       // 12M (12 * 10^6)
)

// Scale is a power of ten: a Quantity's value at scale s counts units of 10^s.
type Scale int32

// Scales with SI names.
const (
	Nano  Scale = -9
	Micro Scale = -6
	Milli Scale = -3
	Kilo  Scale = 3
	Mega  Scale = 6
	Giga  Scale = 9
	Tera  Scale = 12
	Peta  Scale = 15
	Exa   Scale = 18
)

// Quantity is an exact fixed-point number with a unit suffix, as in
// Kubernetes resource requests, limits and capacities: "500m", "0.5",
// "128Mi", "1.5Gi", "1e3", "2k". It parses, compares and prints exactly as
// Kubernetes' resource.Quantity does; see ParseQuantity and String.
//
// A Quantity is a small value (24 bytes). The zero Quantity is 0. Copying it
// by assignment is a deep copy: its rare big-number part is never modified
// once set. Its representation is canonical, so two quantities of equal
// value and Format are == (when they fit in an int64) and reflect.DeepEqual.
//
// +kubebuilder:object:generate=false
type Quantity struct {
	// The value is mant * 10^scale, where mant is big when big is non-nil and
	// small otherwise. big is set only for a mantissa that does not fit in an
	// int64 and is immutable. The mantissa has no trailing decimal zeros
	// unless scale would overflow, and zero has scale 0.
	big   *big.Int
	small int64
	scale int32
	fmt   uint8
}

const (
	fmtNone uint8 = iota
	fmtDecimalSI
	fmtBinarySI
	fmtDecimalExponent
)

func formatCode(f Format) uint8 {
	switch f {
	case DecimalSI:
		return fmtDecimalSI
	case BinarySI:
		return fmtBinarySI
	case DecimalExponent:
		return fmtDecimalExponent
	}
	return fmtNone
}

// Format returns the suffix style the quantity is printed with, remembered
// from the string it was parsed from.
func (q Quantity) Format() Format {
	switch q.fmt {
	case fmtDecimalSI:
		return DecimalSI
	case fmtBinarySI:
		return BinarySI
	case fmtDecimalExponent:
		return DecimalExponent
	}
	return ""
}

// Errors of ParseQuantity, worded as Kubernetes words them.
var (
	// ErrFormatWrong is returned for a string that is not shaped like a quantity.
	ErrFormatWrong = errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
	// ErrSuffix is returned for an unknown suffix, such as "1Ki3" or "1i".
	ErrSuffix = errors.New("unable to parse quantity's suffix")
)

var (
	pow10 = [19]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
		1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}
	bigTen    = big.NewInt(10)
	big1024   = big.NewInt(1024)
	bigMaxInt = big.NewInt(math.MaxInt64)
)

// MustParseQuantity is ParseQuantity for constants; it panics on a bad string.
func MustParseQuantity(s string) Quantity {
	q, err := ParseQuantity(s)
	if err != nil {
		panic(fmt.Sprintf("cannot parse '%v': %v", s, err))
	}
	return q
}

// ParseQuantity reads a quantity as Kubernetes does:
//
//	<quantity>        ::= <sign>? <digits>? ("." <digits>?)? <suffix>
//	<suffix>          ::= <binarySI> | <decimalSI> | <decimalExponent>
//	<binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
//	<decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
//	<decimalExponent> ::= ("e" | "E") <sign>? <digits>
//
// A non-zero value finer than 1n is rounded away from zero to a multiple of
// 1n ("0.1n" is "1n"), and a binarySI value larger than 2^63-1 is capped
// there, as Kubernetes does. Decimal values are not capped; an exponent
// beyond ±(2^31-1) is rejected. Errors wrap ErrFormatWrong or ErrSuffix.
func ParseQuantity(s string) (Quantity, error) {
	q, err := parseQuantity(s)
	if err != nil {
		return Quantity{}, fmt.Errorf("invalid quantity %q: %w", s, err)
	}
	return q, nil
}

func parseQuantity(s string) (Quantity, error) {
	if s == "" {
		return Quantity{}, ErrFormatWrong
	}
	i := 0
	neg := false
	switch s[0] {
	case '-':
		neg = true
		i++
	case '+':
		i++
	}
	for i < len(s) && s[i] == '0' {
		i++
	}
	if i == len(s) {
		// Kubernetes reads a bare sign ("-", "+") as zero, like "0" and "-00".
		return Quantity{fmt: fmtDecimalSI}, nil
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	num := s[start:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		frac = s[start:i]
	}
	suffix := s[i:]
	for i < len(s) && strings.IndexByte("eEinumkKMGTP", s[i]) >= 0 {
		i++
	}
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i != len(s) {
		return Quantity{}, ErrFormatWrong
	}
	binExp, decExp, f, ok := interpretSuffix(suffix)
	if !ok {
		return Quantity{}, ErrSuffix
	}

	q := Quantity{fmt: f}
	ndigits := int64(len(num) + len(frac)) // an upper bound of the mantissa's digits
	if binExp > 0 {
		ndigits += 19 // 2^60 < 10^19
	}
	scale := decExp - int64(len(frac))
	var m *big.Int
	if len(num)+len(frac) <= 18 {
		var v int64
		for j := 0; j < len(num); j++ {
			v = v*10 + int64(num[j]-'0')
		}
		for j := 0; j < len(frac); j++ {
			v = v*10 + int64(frac[j]-'0')
		}
		if v == 0 {
			return q, nil
		}
		if binExp > 0 && bits.Len64(uint64(v))+int(binExp) <= 63 {
			v <<= binExp
			binExp = 0
		}
		if binExp == 0 && scale >= int64(Nano) {
			// The common case: no rounding, no cap, no big numbers.
			if f == fmtBinarySI && scale < 0 && v < pow10[-scale] {
				q.fmt = fmtDecimalSI // a fraction of 1 has no binary suffix
			}
			if neg {
				v = -v
			}
			q.setSmall(v, scale)
			return q, nil
		}
		m = big.NewInt(v)
	} else {
		m, _ = new(big.Int).SetString(num+frac, 10)
		if m.Sign() == 0 {
			return q, nil
		}
	}
	if binExp > 0 {
		m.Lsh(m, uint(binExp))
	}
	if scale < int64(Nano) {
		// Round away from zero to a whole number of nanos.
		shift := int64(Nano) - scale
		if shift >= ndigits {
			m.SetInt64(1)
		} else {
			d := new(big.Int).Exp(bigTen, big.NewInt(shift), nil)
			var r big.Int
			m.QuoRem(m, d, &r)
			if r.Sign() != 0 {
				m.Add(m, big.NewInt(1))
			}
		}
		scale = int64(Nano)
	}
	if f == fmtBinarySI {
		// scale is between Nano and 0 here.
		limit := new(big.Int).Mul(bigMaxInt, pow10Big(-scale))
		if m.Cmp(limit) > 0 {
			m.SetInt64(math.MaxInt64)
			scale = 0
		}
		if scale < 0 && m.Cmp(pow10Big(-scale)) < 0 {
			q.fmt = fmtDecimalSI // a fraction of 1 has no binary suffix
		}
	}
	if neg {
		m.Neg(m)
	}
	q.setBig(m, scale)
	return q, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// interpretSuffix returns the power of two and the power of ten a suffix
// stands for, and the format it implies.
func interpretSuffix(s string) (binExp, decExp int64, f uint8, ok bool) {
	switch s {
	case "":
		return 0, 0, fmtDecimalSI, true
	case "n":
		return 0, -9, fmtDecimalSI, true
	case "u":
		return 0, -6, fmtDecimalSI, true
	case "m":
		return 0, -3, fmtDecimalSI, true
	case "k":
		return 0, 3, fmtDecimalSI, true
	case "M":
		return 0, 6, fmtDecimalSI, true
	case "G":
		return 0, 9, fmtDecimalSI, true
	case "T":
		return 0, 12, fmtDecimalSI, true
	case "P":
		return 0, 15, fmtDecimalSI, true
	case "E":
		return 0, 18, fmtDecimalSI, true
	case "Ki":
		return 10, 0, fmtBinarySI, true
	case "Mi":
		return 20, 0, fmtBinarySI, true
	case "Gi":
		return 30, 0, fmtBinarySI, true
	case "Ti":
		return 40, 0, fmtBinarySI, true
	case "Pi":
		return 50, 0, fmtBinarySI, true
	case "Ei":
		return 60, 0, fmtBinarySI, true
	}
	if len(s) > 1 && (s[0] == 'e' || s[0] == 'E') {
		// Kubernetes accepts exponents within ±(2^31-1) and rejects the
		// rest rather than truncating them.
		e, err := strconv.ParseInt(s[1:], 10, 32)
		if err != nil || e == math.MinInt32 {
			return 0, 0, 0, false
		}
		return 0, e, fmtDecimalExponent, true
	}
	return 0, 0, 0, false
}

func pow10Big(n int64) *big.Int {
	if n < int64(len(pow10)) {
		return big.NewInt(pow10[n])
	}
	return new(big.Int).Exp(bigTen, big.NewInt(n), nil)
}

// mulPow10 returns v*10^n (n >= 0) and whether it fits in an int64.
func mulPow10(v int64, n int64) (int64, bool) {
	if v == 0 {
		return 0, true
	}
	if n >= int64(len(pow10)) {
		return 0, false
	}
	p := pow10[n]
	r := v * p
	if r/p != v {
		return 0, false
	}
	return r, true
}

// setSmall sets the value to v*10^scale in canonical form. scale must be
// within the int32 range or v must be zero.
func (q *Quantity) setSmall(v int64, scale int64) {
	q.big = nil
	if v == 0 {
		q.small, q.scale = 0, 0
		return
	}
	for v%10 == 0 && scale < math.MaxInt32 {
		v /= 10
		scale++
	}
	q.small, q.scale = v, int32(scale)
}

// setBig sets the value to m*10^scale in canonical form. q takes ownership
// of m.
func (q *Quantity) setBig(m *big.Int, scale int64) {
	if m.IsInt64() {
		q.setSmall(m.Int64(), scale)
		return
	}
	// Strip trailing zeros, eighteen at a time while that is possible.
	var quo, rem big.Int
	chunk := big.NewInt(pow10[18])
	for scale+18 <= math.MaxInt32 {
		quo.QuoRem(m, chunk, &rem)
		if rem.Sign() != 0 {
			break
		}
		m.Set(&quo)
		scale += 18
	}
	for scale < math.MaxInt32 {
		quo.QuoRem(m, bigTen, &rem)
		if rem.Sign() != 0 {
			break
		}
		m.Set(&quo)
		scale++
	}
	if m.IsInt64() {
		q.setSmall(m.Int64(), scale)
		return
	}
	q.big, q.small, q.scale = m, 0, int32(scale)
}

// mant returns the mantissa as a big.Int the caller must not modify.
func (q Quantity) mant() *big.Int {
	if q.big != nil {
		return q.big
	}
	return big.NewInt(q.small)
}

// NewQuantity returns value as a Quantity printed in the given format.
func NewQuantity(value int64, format Format) Quantity {
	q := Quantity{fmt: formatCode(format)}
	q.setSmall(value, 0)
	return q
}

// NewMilliQuantity returns value/1000 as a Quantity printed in the given
// format. A BinarySI value that is not whole is printed as DecimalSI.
func NewMilliQuantity(value int64, format Format) Quantity {
	q := Quantity{fmt: formatCode(format)}
	q.setSmall(value, int64(Milli))
	return q
}

// NewScaledQuantity returns value*10^scale as a DecimalSI Quantity.
func NewScaledQuantity(value int64, scale Scale) Quantity {
	q := Quantity{fmt: fmtDecimalSI}
	q.setSmall(value, int64(scale))
	return q
}

// IsZero reports whether the quantity is zero.
func (q Quantity) IsZero() bool { return q.big == nil && q.small == 0 }

// Sign returns -1, 0 or 1 as the quantity is negative, zero or positive.
func (q Quantity) Sign() int {
	if q.big != nil {
		return q.big.Sign()
	}
	return sign64(q.small)
}

func sign64(v int64) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Cmp returns -1, 0 or 1 as q is less than, equal to or greater than y.
// It is exact: Cmp("1.5Gi", "1536Mi") and Cmp("0.5", "500m") are 0.
func (q Quantity) Cmp(y Quantity) int {
	if q.big == nil && y.big == nil {
		if q.scale == y.scale {
			return cmp64(q.small, y.small)
		}
		sq, sy := sign64(q.small), sign64(y.small)
		if sq != sy || sq == 0 {
			return cmp64(int64(sq), int64(sy))
		}
		if q.scale > y.scale {
			if a, ok := mulPow10(q.small, int64(q.scale)-int64(y.scale)); ok {
				return cmp64(a, y.small)
			}
			return sq // |q| exceeds every int64 count of y's units
		}
		if b, ok := mulPow10(y.small, int64(y.scale)-int64(q.scale)); ok {
			return cmp64(q.small, b)
		}
		return -sq
	}
	return q.cmpSlow(y)
}

func (q Quantity) cmpSlow(y Quantity) int {
	sq, sy := q.Sign(), y.Sign()
	if sq != sy || sq == 0 {
		return cmp64(int64(sq), int64(sy))
	}
	// Settle what the orders of magnitude decide before aligning scales,
	// which would write the difference out in digits.
	qlo, qhi := q.magnitude()
	ylo, yhi := y.magnitude()
	switch {
	case qlo > yhi:
		return sq
	case qhi < ylo:
		return -sq
	}
	a, b := alignedMants(q, y)
	return a.Cmp(b)
}

// magnitude brackets floor(log10(|q|)) for a non-zero q.
func (q Quantity) magnitude() (lo, hi int64) {
	n := int64(q.mant().BitLen()) // 2^(n-1) <= |mant| < 2^n
	// 0.3 < log10(2) < 0.31
	return (n-1)*3/10 + int64(q.scale), n*31/100 + int64(q.scale)
}

// alignedMants returns the mantissas of q and y at their common scale, the
// smaller of the two. The results may alias q's or y's mantissa.
func alignedMants(q, y Quantity) (a, b *big.Int) {
	a, b = q.mant(), y.mant()
	switch {
	case q.scale > y.scale:
		a = new(big.Int).Mul(a, pow10Big(int64(q.scale)-int64(y.scale)))
	case q.scale < y.scale:
		b = new(big.Int).Mul(b, pow10Big(int64(y.scale)-int64(q.scale)))
	}
	return a, b
}

// CmpInt64 compares q with the integer y.
func (q Quantity) CmpInt64(y int64) int {
	return q.Cmp(Quantity{small: y})
}

// Equal reports whether q and y have the same value, whatever their formats.
func (q Quantity) Equal(y Quantity) bool { return q.Cmp(y) == 0 }

// Add adds y to q. A zero q takes y's format.
//
// Adding quantities whose exponents are astronomically far apart ("1e999999999"
// and "1") writes the sum out in full, as Kubernetes does.
func (q *Quantity) Add(y Quantity) {
	if q.IsZero() {
		*q = y
		return
	}
	if y.IsZero() {
		return
	}
	if q.big == nil && y.big == nil {
		a, b, scale := q.small, y.small, int64(q.scale)
		ok := true
		switch {
		case q.scale > y.scale:
			a, ok = mulPow10(a, int64(q.scale)-int64(y.scale))
			scale = int64(y.scale)
		case q.scale < y.scale:
			b, ok = mulPow10(b, int64(y.scale)-int64(q.scale))
		}
		if ok {
			// The sum overflows only when the operands share a sign that
			// the sum does not have.
			r := a + b
			if (a >= 0) != (b >= 0) || (r >= 0) == (a >= 0) {
				q.setSmall(r, scale)
				return
			}
		}
	}
	a, b := alignedMants(*q, y)
	scale := min(int64(q.scale), int64(y.scale))
	q.setBig(new(big.Int).Add(a, b), scale)
}

// Sub subtracts y from q. A zero q takes y's format.
func (q *Quantity) Sub(y Quantity) {
	y.Neg()
	q.Add(y)
}

// Neg negates q.
func (q *Quantity) Neg() {
	switch {
	case q.big != nil:
		q.setBig(new(big.Int).Neg(q.big), int64(q.scale))
	case q.small == math.MinInt64:
		q.big = new(big.Int).Neg(big.NewInt(q.small))
		q.small = 0
	default:
		q.small = -q.small
	}
}

// Value returns the value rounded away from zero to an integer ("1n" is 1,
// "-1.5" is -2), saturating at the int64 limits.
func (q Quantity) Value() int64 { return q.ScaledValue(0) }

// MilliValue returns the value in thousandths, rounded away from zero ("0.1"
// is 100, "1n" is 1), saturating at the int64 limits.
func (q Quantity) MilliValue() int64 { return q.ScaledValue(Milli) }

// ScaledValue returns the value in units of 10^scale, rounded away from
// zero, saturating at the int64 limits. NewQuantity(1,
// DecimalSI).ScaledValue(Milli) is 1000.
func (q Quantity) ScaledValue(scale Scale) int64 {
	if q.big == nil {
		v := q.small
		if v == 0 {
			return 0
		}
		d := int64(q.scale) - int64(scale)
		if d >= 0 {
			if r, ok := mulPow10(v, d); ok {
				return r
			}
			return saturate(v > 0)
		}
		if -d >= int64(len(pow10)) {
			// |v| < 10^19, so the quotient is less than one unit.
			return int64(sign64(v))
		}
		p := pow10[-d]
		r := v / p
		if v%p != 0 {
			r += int64(sign64(v))
		}
		return r
	}
	return q.scaledValueSlow(scale)
}

func saturate(positive bool) int64 {
	if positive {
		return math.MaxInt64
	}
	return math.MinInt64
}

func (q Quantity) scaledValueSlow(scale Scale) int64 {
	s := q.Sign()
	lo, hi := q.magnitude()
	switch {
	case lo-int64(scale) >= 19:
		return saturate(s > 0)
	case hi-int64(scale) < 0:
		return int64(s) // less than one unit
	}
	m := q.mant()
	d := int64(q.scale) - int64(scale)
	var r *big.Int
	if d >= 0 {
		r = new(big.Int).Mul(m, pow10Big(d))
	} else {
		var rem big.Int
		r, _ = new(big.Int).QuoRem(m, pow10Big(-d), &rem)
		if rem.Sign() != 0 {
			r.Add(r, big.NewInt(int64(s)))
		}
	}
	if !r.IsInt64() {
		return saturate(s > 0)
	}
	return r.Int64()
}

// AsInt64 returns the value as an int64 when it is a whole number that fits.
func (q Quantity) AsInt64() (int64, bool) {
	if q.big != nil || q.scale < 0 {
		return 0, false
	}
	return mulPow10(q.small, int64(q.scale))
}

// AsApproximateFloat64 returns the value as a float64, which may round.
// Values beyond the float64 range are ±Inf.
func (q Quantity) AsApproximateFloat64() float64 {
	if q.big == nil {
		if q.scale == 0 {
			return float64(q.small)
		}
		return float64(q.small) * math.Pow10(int(q.scale))
	}
	// ParseFloat rounds a decimal string correctly whatever its size.
	f, _ := strconv.ParseFloat(q.big.Text(10)+"e"+strconv.Itoa(int(q.scale)), 64)
	return f
}

// String returns the canonical form of q, as Kubernetes prints it: the
// largest suffix of q's format that leaves a whole number, with exponents
// in steps of three. "0.5" is "500m", "1.5Gi" is "1536Mi", "1000m" is "1",
// "1e3" is "1e3". A BinarySI value that is not a whole number, or whose
// magnitude is below 1024, is printed as DecimalSI.
func (q Quantity) String() string {
	var buf [24]byte
	return string(q.appendCanonical(buf[:0]))
}

func (q Quantity) appendCanonical(b []byte) []byte {
	if q.IsZero() {
		return append(b, '0')
	}
	f := q.fmt
	if f == fmtBinarySI {
		if q.scale < 0 || q.CmpInt64(-1024) > 0 && q.CmpInt64(1024) < 0 {
			// Not a whole number (the mantissa has no trailing zeros), or
			// below 1Ki: decimal, so as not to round.
			f = fmtDecimalSI
		} else if out, ok := q.appendBinary(b); ok {
			return out
		} else {
			// Beyond Ei there is no binary suffix; newer Kubernetes prints
			// the exact decimal value instead of dropping the magnitude.
			f = fmtDecimalExponent
		}
	}

	// Decimal: make the exponent a multiple of three, rounding it down.
	e := int64(q.scale)
	r := e % 3
	if r < 0 {
		r += 3
	}
	e -= r
	if q.big == nil {
		if v, ok := mulPow10(q.small, r); ok {
			b = strconv.AppendInt(b, v, 10)
		} else {
			b = new(big.Int).Mul(big.NewInt(q.small), pow10Big(r)).Append(b, 10)
		}
	} else {
		b = new(big.Int).Mul(q.big, pow10Big(r)).Append(b, 10)
	}
	if e == 0 {
		return b
	}
	if f == fmtDecimalSI && e >= -9 && e <= 18 {
		return append(b, "num_kMGTPE"[(e+9)/3])
	}
	// DecimalSI has no suffix beyond 10^18 or below 10^-9: Kubernetes falls
	// back to an exponent there.
	b = append(b, 'e')
	return strconv.AppendInt(b, e, 10)
}

var binarySuffixes = [...]string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}

// appendBinary prints a whole q of at least 1Ki in magnitude with the
// largest binary suffix that leaves a whole number. It fails when q is a
// whole number of 1024Ei, which has no suffix.
func (q Quantity) appendBinary(b []byte) ([]byte, bool) {
	if q.big == nil {
		if v, ok := mulPow10(q.small, int64(q.scale)); ok {
			i := 0
			for ; i < len(binarySuffixes) && v%1024 == 0; i++ {
				v /= 1024
			}
			if i == len(binarySuffixes) {
				return b, false
			}
			b = strconv.AppendInt(b, v, 10)
			return append(b, binarySuffixes[i]...), true
		}
	}
	v := new(big.Int).Mul(q.mant(), pow10Big(int64(q.scale)))
	var quo, rem big.Int
	i := 0
	for ; i < len(binarySuffixes); i++ {
		quo.QuoRem(v, big1024, &rem)
		if rem.Sign() != 0 {
			break
		}
		v.Set(&quo)
	}
	if i == len(binarySuffixes) {
		return b, false
	}
	b = v.Append(b, 10)
	return append(b, binarySuffixes[i]...), true
}

// MarshalJSON writes the canonical string.
func (q Quantity) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 24)
	b = append(b, '"')
	b = q.appendCanonical(b)
	return append(b, '"'), nil
}

// UnmarshalJSON reads a JSON string ("500m") or a JSON number (2, 0.5), as
// Kubernetes accepts both; null is zero.
func (q *Quantity) UnmarshalJSON(data []byte) error {
	s := strings.TrimSpace(string(data))
	if s == "null" {
		*q = Quantity{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
	}
	parsed, err := ParseQuantity(s)
	if err != nil {
		return err
	}
	*q = parsed
	return nil
}

// MarshalText writes the canonical string, for YAML and other text encoders.
func (q Quantity) MarshalText() ([]byte, error) { return q.appendCanonical(nil), nil }

// UnmarshalText parses a quantity, for YAML and other text decoders.
func (q *Quantity) UnmarshalText(text []byte) error {
	parsed, err := ParseQuantity(strings.TrimSpace(string(text)))
	if err != nil {
		return err
	}
	*q = parsed
	return nil
}

// DeepCopy returns a copy of q. Assignment copies a Quantity just as well;
// the method exists for generated deep-copy code.
func (q Quantity) DeepCopy() Quantity { return q }

// DeepCopyInto copies q into out.
func (q *Quantity) DeepCopyInto(out *Quantity) { *out = *q }
