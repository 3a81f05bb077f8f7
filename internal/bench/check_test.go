package bench

import "testing"

func TestSeqCheck(t *testing.T) {
	var c seqCheck
	for _, s := range []uint64{1, 2, 3, 5, 4, 4, 70, 130} {
		c.record(s)
	}
	if c.dup != 1 || c.reordered != 1 || c.max != 130 {
		t.Fatalf("dup %d reordered %d max %d", c.dup, c.reordered, c.max)
	}
	// Seen: 1-5, 70, 130.
	for upto, want := range map[uint64]uint64{0: 0, 5: 0, 6: 1, 64: 59, 70: 64, 129: 123, 130: 123, 200: 193} {
		if got := c.lost(upto); got != want {
			t.Errorf("lost(%d) = %d, want %d", upto, got, want)
		}
	}
	var empty seqCheck
	if empty.lost(3) != 3 {
		t.Fatal("an empty check lost nothing")
	}
}
