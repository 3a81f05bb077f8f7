package gwsws

import (
	"strings"
	"testing"
)

func TestWireSize(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 2}, {125, 127}, {126, 130}, {0xFFFF, 0xFFFF + 4}, {0x10000, 0x10000 + 10},
	}
	for _, tc := range tests {
		if got := wireSize(tc.n); got != tc.want {
			t.Errorf("wireSize(%d): got %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestCutReason(t *testing.T) {
	tests := []struct{ in, want string }{
		{"unauthorized", "unauthorized"},
		{strings.Repeat("a", 200), strings.Repeat("a", 123)},
		{strings.Repeat("é", 100), strings.Repeat("é", 61)}, // not half a rune
	}
	for _, tc := range tests {
		if got := cutReason(tc.in); got != tc.want {
			t.Errorf("cutReason(%d bytes): got %d bytes, want %d", len(tc.in), len(got), len(tc.want))
		}
	}
}
