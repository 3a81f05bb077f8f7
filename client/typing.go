package client

import (
	"context"

	"github.com/parley-im/parley/wire"
)

// Typing tells the other members of conv (and this user's other devices)
// that the user is typing; their clients' OnTyping runs. Send it every few
// seconds while the user types: the server relays at most one per
// conversation per second from a connection (rate_limited otherwise) and
// nothing in groups of more than 500 members. Errors: forbidden if the
// user is not a member, not_found, rate_limited.
func (c *Client) Typing(ctx context.Context, conv string) error {
	var res struct{}
	return c.callOnce(ctx, wire.In{Type: wire.TTyping, Conv: conv}, &res)
}
