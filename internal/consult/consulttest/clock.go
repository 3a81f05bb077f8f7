// Package consulttest holds the contract suite every consult.Store
// implementation runs (RunStoreTests) and a fake Clock for tests of
// timers. It has no global state.
package consulttest

import (
	"context"
	"sync"
	"time"
)

// Clock is a consult.Clock that moves only when Advance is called. It is
// safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	// changed is closed, and replaced, whenever an After is added, to
	// wake BlockUntil.
	changed chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{now: t, changed: make(chan struct{})} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once Advance
// has taken it d past now.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	close(c.changed)
	c.changed = make(chan struct{})
	return ch
}

// BlockUntil waits until at least n Afters are pending (for the consult
// service: its timer goroutine has finished its step and waits for the
// next tick), or until ctx ends, whose error it then returns.
func (c *Clock) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		pending, changed := len(c.waiters), c.changed
		c.mu.Unlock()
		if pending >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Step moves the clock d forward while the goroutine waiting on it is
// idle, and returns once it waits again: for the consult service, once
// the timer step that the move set off (automatic resolutions, agents
// whose grace has passed) has finished. It is meant for a clock with
// one waiting goroutine; ctx bounds the waits.
func (c *Clock) Step(ctx context.Context, d time.Duration) error {
	if err := c.BlockUntil(ctx, 1); err != nil {
		return err
	}
	c.Advance(d)
	return c.BlockUntil(ctx, 1)
}

// Advance moves the clock d forward and fires every After that is due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}
