package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Send sends a message to the direct conversation with user to and returns
// it as stored. kind "" means parley.KindText, whose body is
// {"text":"..."}.
//
// The send carries a client message id generated here and reused on every
// retry, so a send repeated after a lost connection is stored once: the
// server answers a repeat with the original message. The message is also
// handed to OnMessage, in its conversation's order, possibly before Send
// returns. If ctx ends before an answer, the message may or may not be
// stored; if it is, OnMessage gets it all the same.
//
// Errors: invalid or too_large for a bad body (checked before sending),
// not_found for an unknown recipient, forbidden, and the errors common to
// every request.
func (c *Client) Send(ctx context.Context, to string, kind parley.Kind, body json.RawMessage) (*parley.Message, error) {
	return c.send(ctx, wire.In{Type: wire.TSend, To: to, Kind: string(kind), Body: body})
}

// SendConv is Send to a conversation by id (e.g. a direct conversation id
// from parley.DirectConvID); forbidden if the user is not a member.
func (c *Client) SendConv(ctx context.Context, conv string, kind parley.Kind, body json.RawMessage) (*parley.Message, error) {
	return c.send(ctx, wire.In{Type: wire.TSend, Conv: conv, Kind: string(kind), Body: body})
}

func (c *Client) send(ctx context.Context, in wire.In) (*parley.Message, error) {
	if in.Kind == "" {
		in.Kind = string(parley.KindText)
	}
	if err := parley.ValidateBody(parley.Kind(in.Kind), in.Body, true); err != nil {
		return nil, err
	}
	in.CMID = ulid.Make().String()
	var res wire.SendRes
	if err := c.call(ctx, in, &res); err != nil {
		return nil, err
	}
	if res.Msg == nil {
		return nil, errors.New("client: send answered without a message")
	}
	// The conn queued the message for OnMessage when the answer arrived.
	return res.Msg, nil
}

// Read moves this user's read cursor in conv to seq (the server clamps it
// to the last seq and never moves it back) and returns the user's state of
// the conversation. The user's other devices and the other members learn
// it through OnRead.
func (c *Client) Read(ctx context.Context, conv string, seq uint64) (parley.ConvState, error) {
	var st parley.ConvState
	if err := c.call(ctx, wire.In{Type: wire.TRead, Conv: conv, Seq: seq}, &st); err != nil {
		return parley.ConvState{}, err
	}
	c.d.reads.saw(conv, c.user, st.ReadSeq)
	return st, nil
}

// Pull reads a range of a conversation's messages (history). It does not
// touch what OnMessage receives. r.Limit 0 means wire.DefaultLimit; at
// most wire.MaxLimit.
func (c *Client) Pull(ctx context.Context, conv string, r parley.MessageRange) (wire.PullRes, error) {
	var res wire.PullRes
	err := c.call(ctx, wire.In{Type: wire.TPull, Conv: conv, After: r.After, Before: r.Before, Limit: r.Limit, Newest: r.Newest}, &res)
	return res, err
}

// Sync lists the user's conversations changed since the change version
// since (0: all), at most limit of them (0: wire.DefaultLimit). The client
// already syncs by itself to feed OnMessage; Sync is for inspection.
func (c *Client) Sync(ctx context.Context, since uint64, limit int) (wire.SyncRes, error) {
	var res wire.SyncRes
	err := c.call(ctx, wire.In{Type: wire.TSync, Since: since, Limit: limit}, &res)
	return res, err
}

// Conversations lists the user's conversations, most recently changed
// first, each with its newest message and unread count: at most limit
// (0: wire.DefaultLimit) whose change version is below beforeVer (0: no
// bound; pass the last one's Ver to get the next page).
func (c *Client) Conversations(ctx context.Context, beforeVer uint64, limit int) (wire.ConvsRes, error) {
	var res wire.ConvsRes
	err := c.call(ctx, wire.In{Type: wire.TConvs, Before: beforeVer, Limit: limit}, &res)
	return res, err
}

// Search finds messages of this user's conversations by their text, the
// most recently stored first (parley.SearchQuery says how text matches),
// at most q.Limit of them (0: parley.DefaultSearchLimit). While the
// answer's More is true, the next page is Search with q.Before set to its
// Next; a page may be short, even empty, while More is true. It does not
// touch what OnMessage receives.
//
// Errors: invalid for a query q.Validate refuses (checked before sending)
// or one with nothing to search for; forbidden if q.ConvID is a
// conversation the user does not belong to; and the errors common to
// every request.
func (c *Client) Search(ctx context.Context, q parley.SearchQuery) (wire.SearchRes, error) {
	if err := q.Validate(); err != nil {
		return wire.SearchRes{}, err
	}
	var res wire.SearchRes
	err := c.call(ctx, wire.In{Type: wire.TSearch, Q: q.Text, Conv: q.ConvID, Before: q.Before, Limit: q.Limit}, &res)
	return res, err
}

// Ping sends a ping and waits for a pong. Pongs carry no request id, so a
// concurrent heartbeat's pong may answer it.
func (c *Client) Ping(ctx context.Context) error {
	for {
		cn, err := c.waitConn(ctx)
		if err != nil {
			return err
		}
		pong := cn.awaitPong()
		if err := cn.write(ctx, []byte(`{"type":"ping"}`)); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-pong:
			if !cn.isDead() {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// call makes the request in and decodes the data of its answer into out,
// as the Client's comment describes.
func (c *Client) call(ctx context.Context, in wire.In, out any) error {
	for attempt := 0; ; {
		cn, err := c.waitConn(ctx)
		if err != nil {
			return err
		}
		data, err := cn.roundTrip(ctx, in)
		if err == nil {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("client: undecodable answer to %s: %w", in.Type, err)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("client: %s: %w", in.Type, ctx.Err())
		}
		var lost *lostError
		if errors.As(err, &lost) {
			continue // waitConn waits for the next connection
		}
		if !retryable(err) {
			return err
		}
		if !sleep(ctx, c.backoff(attempt)) {
			return fmt.Errorf("client: %s: %w (last error: %v)", in.Type, ctx.Err(), err)
		}
		attempt++
	}
}

// callOnce makes the request in on the live connection, once; a lostError
// when there is none. The deliverer uses it: it never waits for a
// reconnection, which resyncs anyway.
func (c *Client) callOnce(ctx context.Context, in wire.In, out any) error {
	cn := c.current()
	if cn == nil {
		return &lostError{cause: errNoConn}
	}
	data, err := cn.roundTrip(ctx, in)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: undecodable answer to %s: %w", in.Type, err)
	}
	return nil
}

// retryable reports whether a request refused with err may succeed later.
func retryable(err error) bool {
	var perr *parley.Error
	if !errors.As(err, &perr) {
		return false
	}
	return perr.Code == parley.EUnavailable || perr.Code == parley.ERateLimited
}
