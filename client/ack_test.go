package client

import (
	"slices"
	"testing"

	"github.com/parley-im/parley/wire"
)

// TestAckFrame checks that the hand-built ack frame is what the server
// decodes: the same push numbers, in order.
func TestAckFrame(t *testing.T) {
	for _, ns := range [][]uint64{{1}, {1, 2, 3}, {18446744073709551615, 0, 42}} {
		f := ackFrame(ns)
		in, err := wire.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if in.Type != wire.TAck || !slices.Equal(in.N, ns) {
			t.Errorf("%s decoded as %q %v, want ack %v", f, in.Type, in.N, ns)
		}
	}
}
