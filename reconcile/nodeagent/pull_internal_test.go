package nodeagent

import (
	"testing"
	"time"
)

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0B"},
		{999, "999B"},
		{1000, "1.0kB"},
		{12_345, "12.3kB"},
		{999_949, "999.9kB"},
		{999_950, "1.0MB"},
		{40_000_000, "40.0MB"},
		{6_666_666, "6.7MB"},
		{1_500_000_000, "1.5GB"},
		{2_000_000_000_000_000, "2000.0TB"},
	} {
		if got := byteSize(tc.n); got != tc.want {
			t.Errorf("byteSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestPulledMessage(t *testing.T) {
	for _, tc := range []struct {
		r      pullResult
		waited time.Duration
		want   string
	}{
		{pullResult{took: 1234567 * time.Microsecond, size: 42}, 1500 * time.Millisecond,
			`Successfully pulled image "x:1" in 1.234s (1.5s including waiting). Image size: 42 bytes.`},
		{pullResult{took: 0}, 0, `Successfully pulled image "x:1" in 0s (0s including waiting).`},
	} {
		if got := pulledMessage("x:1", tc.r, tc.waited); got != tc.want {
			t.Errorf("pulledMessage(%+v, %v) = %q, want %q", tc.r, tc.waited, got, tc.want)
		}
	}
}
