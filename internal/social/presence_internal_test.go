package social

import (
	"fmt"
	"slices"
	"testing"

	"github.com/parley-im/parley"
)

func TestLatestKeepsEachUsersLastChange(t *testing.T) {
	ch := func(app, user string, online bool) change {
		return change{app, parley.Presence{User: user, Online: online}}
	}
	queue := []change{
		ch("a", "alice", true), ch("a", "bob", true), ch("b", "alice", true),
		ch("a", "alice", false), ch("a", "carol", true), ch("a", "bob", false),
	}
	var got []string
	for _, c := range latest(queue) {
		got = append(got, fmt.Sprintf("%s/%s %v", c.app, c.p.User, c.p.Online))
	}
	if want := []string{"b/alice true", "a/alice false", "a/carol true", "a/bob false"}; !slices.Equal(got, want) {
		t.Errorf("latest: got %q, want %q", got, want)
	}
	if got := latest(nil); len(got) != 0 {
		t.Errorf("latest(nil): got %v, want none", got)
	}
}
