package gateway

import (
	"sync"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Live watching of consultation threads by supervisors (docs/protocol.md
// §15.3, consult_watch with live). The consult service copies every
// thread message to the shop's supervisors (delivery kind
// consult.DeliverWatch); this table says which of their sessions on this
// node asked for the thread, and only those write it. A watch lives in
// the node that holds the session, so it ends with the session (Closed)
// whichever node commits the thread's messages.
const (
	// MaxWatchesPerSupervisor bounds the threads one supervisor watches
	// live over all their sessions on a node.
	MaxWatchesPerSupervisor = 20
	// MaxWatchersPerThread bounds the sessions on a node watching one
	// thread live.
	MaxWatchersPerThread = 20
)

// threadKey names a consultation thread of an app.
type threadKey struct{ app, conv string }

// watchTable is the node's live watches. The zero value is empty and
// ready. Its lock is a leaf: nothing is called while it is held.
type watchTable struct {
	mu       sync.Mutex
	threads  map[threadKey]map[*Session]string // (app, thread) -> watching sessions -> the consultation they named
	sessions map[*Session][]string             // a session's watched threads
	users    map[userKey]int                   // (app, supervisor) -> watches on this node
}

// watch makes s receive the thread conv's messages live; consult is the
// consultation s named, which consult_unwatch names again. Watching a
// thread already watched only renames it (added is false). Errors: EConflict past a
// limit, EUnavailable if the session has closed (so that a watch never
// outlives its session: Closed sets the state before it drops).
func (w *watchTable) watch(s *Session, consult, conv string) (added bool, err error) {
	k, u := threadKey{s.app, conv}, userKey{s.app, s.user}
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.state.Load() == stateClosed {
		return false, parley.Errorf(parley.EUnavailable, "session closed")
	}
	if _, ok := w.threads[k][s]; ok {
		w.threads[k][s] = consult
		return false, nil
	}
	if w.users[u] >= MaxWatchesPerSupervisor {
		return false, parley.Errorf(parley.EConflict, "watching %d consultations live already, the most one supervisor may", MaxWatchesPerSupervisor)
	}
	if len(w.threads[k]) >= MaxWatchersPerThread {
		return false, parley.Errorf(parley.EConflict, "consultation %s has %d live watchers already, the most it may", consult, MaxWatchersPerThread)
	}
	if w.threads == nil {
		w.threads, w.sessions, w.users = map[threadKey]map[*Session]string{}, map[*Session][]string{}, map[userKey]int{}
	}
	if w.threads[k] == nil {
		w.threads[k] = map[*Session]string{}
	}
	w.threads[k][s] = consult
	w.sessions[s] = append(w.sessions[s], conv)
	w.users[u]++
	return true, nil
}

// unwatch stops s watching the thread of consultation consult and
// reports whether it was.
func (w *watchTable) unwatch(s *Session, consult string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, conv := range w.sessions[s] {
		if w.threads[threadKey{s.app, conv}][s] == consult {
			w.removeLocked(s, conv)
			w.sessions[s] = append(w.sessions[s][:i:i], w.sessions[s][i+1:]...)
			if len(w.sessions[s]) == 0 {
				delete(w.sessions, s)
			}
			return true
		}
	}
	return false
}

// drop removes every watch of s (its session ended).
func (w *watchTable) drop(s *Session) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, conv := range w.sessions[s] {
		w.removeLocked(s, conv)
	}
	delete(w.sessions, s)
}

// removeLocked removes s from conv's watchers and from its supervisor's
// count, not from w.sessions. w.mu must be held.
func (w *watchTable) removeLocked(s *Session, conv string) {
	k, u := threadKey{s.app, conv}, userKey{s.app, s.user}
	delete(w.threads[k], s)
	if len(w.threads[k]) == 0 {
		delete(w.threads, k)
	}
	if w.users[u]--; w.users[u] <= 0 {
		delete(w.users, u)
	}
}

// watching reports whether s watches the thread conv.
func (w *watchTable) watching(s *Session, conv string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.threads[threadKey{s.app, conv}][s]
	return ok
}

// count returns the number of live watches.
func (w *watchTable) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ss := range w.threads {
		n += len(ss)
	}
	return n
}

// deliverWatch writes a consult_msg copy to s if s watches its thread.
func (s *Session) deliverWatch(d *parley.Delivery) {
	if s.g.watch.watching(s, wire.ConsultMsgConv(d.Payload)) {
		s.write(d.Payload)
	}
}

// ConsultWatches returns the number of live consultation watches on this
// node (sessions × threads).
func (g *Gateway) ConsultWatches() int { return g.watch.count() }
