package client

import "errors"

// FrameAction is what a Hooks.Received function does with a frame.
type FrameAction = frameAction

// Frame actions.
const (
	FrameHandle  = frameHandle
	FrameDiscard = frameDiscard
	FrameDrop    = frameDrop
)

// Hooks let tests interfere with a client's frames.
type Hooks struct {
	// Received sees each server frame before it is handled.
	Received func(frame []byte) FrameAction
	// Wrote sees each client frame after it is written; true drops the
	// connection.
	Wrote func(frame []byte) bool
}

// WithHooks returns o with test hooks installed.
func WithHooks(o Options, h Hooks) Options {
	o.hooks = &hooks{received: h.Received, wrote: h.Wrote}
	return o
}

// Drop drops the live connection as a network failure would.
func (c *Client) Drop() {
	if cn := c.current(); cn != nil {
		cn.kill(errors.New("client: connection dropped by the test"))
	}
}

// ErrHeartbeat is why a silent connection is dropped.
var ErrHeartbeat = errHeartbeat

// Resyncs is how many resyncs the client has completed.
func (c *Client) Resyncs() int64 { return c.d.synced.Load() }
