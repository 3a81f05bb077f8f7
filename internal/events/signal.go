package events

import "sync"

// Signal tells the readers of an app's log on this node that it grew, so
// that a waiting reader (a long-poll of the events API, a webhook
// deliverer) wakes at once instead of at its next poll. Events appended
// by another node's relay are not signalled here: readers also poll.
// A Signal is safe for concurrent use; make one with NewSignal.
type Signal struct {
	mu sync.Mutex // a leaf
	ch map[string]chan struct{}
}

// NewSignal returns a Signal with no waiters.
func NewSignal() *Signal { return &Signal{ch: make(map[string]chan struct{})} }

// Wait returns a channel closed by the next Notify of app. Take it before
// reading the log, so that an append between the read and the wait is not
// missed.
func (s *Signal) Wait(app string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.ch[app]
	if c == nil {
		c = make(chan struct{})
		s.ch[app] = c
	}
	return c
}

// Notify wakes every waiter of app.
func (s *Signal) Notify(app string) {
	s.mu.Lock()
	c := s.ch[app]
	delete(s.ch, app)
	s.mu.Unlock()
	if c != nil {
		close(c)
	}
}
