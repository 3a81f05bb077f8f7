package gwsws

import "testing"

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
