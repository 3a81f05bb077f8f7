package gateway

import (
	"fmt"
	"testing"

	"github.com/parley-im/parley"
)

// TestWatchTableLimits: a supervisor watches at most
// MaxWatchesPerSupervisor threads over their sessions, a thread has at
// most MaxWatchersPerThread sessions, watching a thread again renames it
// without counting, a closed session is refused, and unwatch and drop
// give the places back.
func TestWatchTableLimits(t *testing.T) {
	var w watchTable
	sess := func(user string) *Session {
		s := &Session{app: "demo", user: user}
		s.state.Store(stateAuthed)
		return s
	}
	sup, sup2 := sess("a3"), sess("a3")
	for i := range MaxWatchesPerSupervisor {
		s := sup
		if i%2 == 1 {
			s = sup2 // the bound is the supervisor's, over their sessions
		}
		if added, err := w.watch(s, fmt.Sprint("c", i), fmt.Sprint("c:s1:u", i)); err != nil || !added {
			t.Fatalf("watch %d: got %v, %v", i, added, err)
		}
	}
	if _, err := w.watch(sup, "cx", "c:s1:ux"); parley.ErrorCode(err) != parley.EConflict {
		t.Fatalf("one watch too many: got %v, want conflict", err)
	}
	if added, err := w.watch(sup, "c0-again", "c:s1:u0"); err != nil || added {
		t.Fatalf("watching a watched thread again: got %v, %v, want a rename", added, err)
	}
	if !w.unwatch(sup, "c0-again") || w.unwatch(sup, "c0-again") || w.unwatch(sup, "c1") {
		t.Fatal("unwatch: stops the thread once, and only the session's own")
	}
	if added, err := w.watch(sup, "cx", "c:s1:ux"); err != nil || !added {
		t.Fatalf("watch after unwatch: got %v, %v", added, err)
	}
	if got := w.count(); got != MaxWatchesPerSupervisor {
		t.Fatalf("count: got %d, want %d", got, MaxWatchesPerSupervisor)
	}
	w.drop(sup)
	w.drop(sup2)
	if got := w.count(); got != 0 || len(w.sessions) != 0 || len(w.users) != 0 || len(w.threads) != 0 {
		t.Fatalf("after drop: count %d, tables %v %v %v", got, w.sessions, w.users, w.threads)
	}

	// One thread, many supervisors.
	for i := range MaxWatchersPerThread {
		if _, err := w.watch(sess(fmt.Sprint("s", i)), "c0", "c:s1:u0"); err != nil {
			t.Fatalf("watcher %d: %v", i, err)
		}
	}
	if _, err := w.watch(sess("late"), "c0", "c:s1:u0"); parley.ErrorCode(err) != parley.EConflict {
		t.Fatalf("one watcher too many: got %v, want conflict", err)
	}

	closed := sess("a3")
	closed.state.Store(stateClosed)
	if _, err := w.watch(closed, "c1", "c:s1:u1"); parley.ErrorCode(err) != parley.EUnavailable {
		t.Fatalf("a closed session: got %v, want unavailable", err)
	}
	if w.watching(closed, "c:s1:u1") {
		t.Fatal("a closed session watches")
	}
}
