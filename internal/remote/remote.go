// Package remote lets a node without the logic role hand the sends of
// its clients to the nodes that have it, over NATS request/reply: the
// gateway role of `parley serve --roles`. Logic nodes Serve a queue group,
// so each send is committed by exactly one of them, whichever is free;
// gateway nodes use a Client in place of the local send path.
//
// Order: the sends of one sender are forwarded one after the other (the
// next leaves when the previous is answered), so a device's messages keep
// their order across logic nodes, as they do on one node.
package remote

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
)

// DefaultSubject is the subject logic nodes serve sends on.
const DefaultSubject = "parley.logic.send"

// queueGroup makes each request reach one logic node.
const queueGroup = "logic"

// MaxRequest bounds a request's encoding: a body and its variants, with
// room for the ids (parley.MaxBodyLen, parley.MaxVariantsLen).
const MaxRequest = parley.MaxBodyLen + parley.MaxVariantsLen + 4096

// request is a chat.SendRequest on the wire.
type request struct {
	App        string           `json:"app"`
	Sender     string           `json:"from"`
	To         string           `json:"to,omitempty"`
	Conv       string           `json:"conv,omitempty"`
	CMID       string           `json:"cmid,omitempty"`
	Kind       parley.Kind      `json:"kind,omitempty"`
	Body       json.RawMessage  `json:"body,omitempty"`
	Variants   []parley.Variant `json:"variants,omitempty"`
	FromClient bool             `json:"client,omitempty"`
	Skip       string           `json:"skip,omitempty"`
}

// reply is a chat.SendResult on the wire.
type reply struct {
	Msg *parley.Message `json:"msg,omitempty"`
	// App is the message's app (Message.AppID is not encoded).
	App     string `json:"app,omitempty"`
	Dup     bool   `json:"dup,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Sender is the logic node's send path; *chat.Service implements it.
type Sender interface {
	SendAsync(ctx context.Context, req chat.SendRequest, done func(chat.SendResult))
}

// Serve answers the sends of gateway nodes with s until the returned stop
// is called. Each request is handed to s at once and answered when s
// calls back, so one slow commit does not hold up the others. A request
// that does not decode is answered with bad_frame.
func Serve(nc *nats.Conn, subject string, s Sender, timeout time.Duration, log *slog.Logger) (stop func(), err error) {
	if subject == "" {
		subject = DefaultSubject
	}
	sub, err := nc.QueueSubscribe(subject, queueGroup, func(m *nats.Msg) {
		req, err := decodeRequest(m.Data)
		if err != nil {
			respond(m, chat.SendResult{Err: err}, log)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		s.SendAsync(ctx, req, func(r chat.SendResult) {
			cancel()
			respond(m, r, log)
		})
	})
	if err != nil {
		return nil, err
	}
	return func() { _ = sub.Drain() }, nil
}

// decodeRequest reads a send request: ETooLarge past MaxRequest,
// EBadFrame for anything but a request naming an app and a sender. The
// send itself is validated by chat, as any other.
func decodeRequest(b []byte) (chat.SendRequest, error) {
	if len(b) > MaxRequest {
		return chat.SendRequest{}, parley.Errorf(parley.ETooLarge, "send request larger than %d bytes", MaxRequest)
	}
	var req request
	if err := json.Unmarshal(b, &req); err != nil || req.App == "" || req.Sender == "" {
		return chat.SendRequest{}, parley.Errorf(parley.EBadFrame, "undecodable send request")
	}
	return chat.SendRequest{
		AppID: req.App, Sender: req.Sender, To: req.To, ConvID: req.Conv, ClientMsgID: req.CMID,
		Kind: req.Kind, Body: req.Body, Variants: req.Variants, FromClient: req.FromClient, SkipConn: req.Skip,
	}, nil
}

func respond(m *nats.Msg, r chat.SendResult, log *slog.Logger) {
	out := reply{Msg: r.Msg, Dup: r.Dup}
	if r.Msg != nil {
		out.App = r.Msg.AppID
	}
	if r.Err != nil {
		out.Code, out.Message = parley.ErrorCode(r.Err), errorMessage(r.Err)
	}
	b, _ := json.Marshal(out)
	if err := m.Respond(b); err != nil {
		log.Warn("answering a remote send failed", "err", err)
	}
}

func errorMessage(err error) string {
	var pe *parley.Error
	if errors.As(err, &pe) && pe.Message != "" {
		return pe.Message
	}
	return "internal error"
}

// Client forwards sends to the logic nodes. It is safe for concurrent
// use; each send in flight holds one goroutine.
type Client struct {
	nc      *nats.Conn
	subject string
	timeout time.Duration

	mu    sync.Mutex
	tails map[string]chan struct{} // per sender: closed when its last send is answered
}

// NewClient returns a Client over nc. timeout bounds each send (the
// answer of a commit); subject "" is DefaultSubject.
func NewClient(nc *nats.Conn, subject string, timeout time.Duration) *Client {
	if subject == "" {
		subject = DefaultSubject
	}
	return &Client{nc: nc, subject: subject, timeout: timeout, tails: make(map[string]chan struct{})}
}

// SendAsync forwards req and calls done with the logic node's answer:
// EUnavailable when no logic node answers within the timeout (the send
// may still have been stored; a retry with the same client message id is
// answered with it, Dup set). The sends of one sender leave in the order
// of the calls, each after the previous one is answered, and their done
// calls come in that order.
func (c *Client) SendAsync(ctx context.Context, req chat.SendRequest, done func(chat.SendResult)) {
	key := req.AppID + "\x00" + req.Sender
	mine := make(chan struct{})
	c.mu.Lock()
	prev := c.tails[key]
	c.tails[key] = mine
	c.mu.Unlock()
	go func() {
		if prev != nil {
			<-prev
		}
		r := c.call(ctx, req)
		done(r)
		c.mu.Lock()
		if c.tails[key] == mine {
			delete(c.tails, key)
		}
		c.mu.Unlock()
		close(mine)
	}()
}

// Send is SendAsync that waits for the answer.
func (c *Client) Send(ctx context.Context, req chat.SendRequest) chat.SendResult {
	ch := make(chan chat.SendResult, 1)
	c.SendAsync(ctx, req, func(r chat.SendResult) { ch <- r })
	return <-ch
}

func (c *Client) call(ctx context.Context, req chat.SendRequest) chat.SendResult {
	b, err := json.Marshal(request{
		App: req.AppID, Sender: req.Sender, To: req.To, Conv: req.ConvID, CMID: req.ClientMsgID,
		Kind: req.Kind, Body: req.Body, Variants: req.Variants, FromClient: req.FromClient, Skip: req.SkipConn,
	})
	if err != nil {
		return chat.SendResult{Err: parley.Errorf(parley.EInvalid, "unencodable send")}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	m, err := c.nc.RequestWithContext(ctx, c.subject, b)
	if err != nil {
		return chat.SendResult{Err: &parley.Error{Code: parley.EUnavailable, Message: "no logic node answered the send", Err: err}}
	}
	var out reply
	if err := json.Unmarshal(m.Data, &out); err != nil {
		return chat.SendResult{Err: &parley.Error{Code: parley.EInternal, Message: "undecodable answer from a logic node", Err: err}}
	}
	if out.Code != "" {
		return chat.SendResult{Err: &parley.Error{Code: out.Code, Message: out.Message}}
	}
	if out.Msg != nil {
		out.Msg.AppID = out.App
	}
	return chat.SendResult{Msg: out.Msg, Dup: out.Dup}
}
