package client

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// SetConvSettings changes this user's own settings of a conversation (the
// fields of c that are not nil; see parley.ConvSettings) and returns the
// user's state of it after the change. The user's other devices learn it
// through OnConv.
func (c *Client) SetConvSettings(ctx context.Context, conv string, s parley.ConvSettings) (parley.ConvState, error) {
	var st parley.ConvState
	err := c.call(ctx, wire.In{Type: wire.TConvSet, Conv: conv, Settings: &s}, &st)
	return st, err
}
