package parley_test

import (
	"slices"
	"testing"

	"github.com/parley-im/parley"
)

func TestInterestedList(t *testing.T) {
	l := parley.NewInterestedList("ann", 3)
	l.Add([]string{"bob", "ann", "_system", "bob", "cat"})
	if l.Full() {
		t.Fatal("full after two ids of three")
	}
	l.Add(parley.PeersIn("ann", []string{parley.DirectConvID("ann", "dan"), "g:team", parley.DirectConvID("eve", "ann")}))
	if got := l.IDs(); !slices.Equal(got, []string{"bob", "cat", "dan"}) || !l.Full() {
		t.Fatalf("IDs: got %v (full %v), want [bob cat dan], full", got, l.Full())
	}
	if n := parley.NewInterestedList("ann", 0).Limit(); n != parley.MaxInterested {
		t.Fatalf("limit 0: got %d, want %d", n, parley.MaxInterested)
	}
}
