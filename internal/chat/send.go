package chat

import (
	"context"
	"encoding/json"

	"github.com/oklog/ulid/v2"
	"github.com/parley-im/parley"
)

// SendRequest is one message to send.
type SendRequest struct {
	AppID  string
	Sender string // a user id, or parley.SystemUserID
	// Exactly one of To (the peer of a direct conversation) and ConvID.
	To          string
	ConvID      string
	ClientMsgID string
	Kind        parley.Kind
	Body        json.RawMessage
	// Variants render the message per role and platform (system
	// messages from business backends only; parley.Variant).
	Variants []parley.Variant
	// FromClient forbids system messages and marks the body as untrusted.
	FromClient bool
	// SkipConn is the sender's connection: it gets the message in the
	// answer to its send, not as a push.
	SkipConn string
}

// SendResult is the outcome of a send: the stored message (the original
// one when the send was a retry, Dup true) or an error.
type SendResult struct {
	Msg *parley.Message
	Dup bool
	Err error
}

// pending is a send, or a group change (op set; done then only carries
// refusals from enqueue), waiting for the committer.
type pending struct {
	msg  *parley.Message
	skip string
	done func(SendResult)
	op   *groupOp
}

// Send persists a message and pushes it to every device of every member of
// its conversation except req.SkipConn. It returns once the message is
// durable. Errors: EInvalid / ETooLarge for a bad request, ENotFound for an
// unknown recipient or conversation, EForbidden when the sender is not a
// member, EUnavailable when the node is overloaded or closing.
func (s *Service) Send(ctx context.Context, req SendRequest) SendResult {
	ch := make(chan SendResult, 1)
	s.SendAsync(ctx, req, func(r SendResult) { ch <- r })
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return SendResult{Err: &parley.Error{Code: parley.EUnavailable, Message: "send timed out", Err: ctx.Err()}}
	}
}

// SendAsync is Send that calls done with the result instead of waiting for
// it. Sends handed to SendAsync by one goroutine are committed in the
// order they were handed over, so one device's messages keep their order.
// done is called exactly once, possibly before SendAsync returns, and must
// not block.
func (s *Service) SendAsync(ctx context.Context, req SendRequest, done func(SendResult)) {
	msg, err := s.prepare(ctx, &req)
	if err != nil {
		s.answer(done, SendResult{Err: err})
		return
	}
	s.enqueue(&pending{msg: msg, skip: req.SkipConn, done: done})
}

func (s *Service) enqueue(p *pending) {
	select {
	case <-s.stop:
		s.answer(p.done, SendResult{Err: parley.Errorf(parley.EUnavailable, "server is shutting down")})
		return
	default:
	}
	select {
	case s.queue <- p:
	default:
		s.answer(p.done, SendResult{Err: parley.Errorf(parley.EUnavailable, "server overloaded; retry")})
	}
}

// answer gives a send its result, counting it in the metrics. Every
// result a send's done receives goes through here.
func (s *Service) answer(done func(SendResult), r SendResult) {
	s.m.answered(r)
	done(r)
}

// prepare validates a request, resolves its conversation and checks that
// the sender may write to it.
func (s *Service) prepare(ctx context.Context, req *SendRequest) (*parley.Message, error) {
	if req.Kind == "" {
		req.Kind = parley.KindText
	}
	if err := parley.ValidateBody(req.Kind, req.Body, req.FromClient); err != nil {
		return nil, err
	}
	if err := parley.ValidateVariants(req.Kind, req.Variants); err != nil {
		return nil, err
	}
	if !parley.ValidClientMsgID(req.ClientMsgID) {
		return nil, parley.Errorf(parley.EInvalid, "client message id must be at most %d characters of [A-Za-z0-9_.@:-]", parley.MaxClientMsgIDLen)
	}
	if a, b, ok := parley.DirectPeers(req.ConvID); ok && (a == parley.SystemUserID || b == parley.SystemUserID) && req.FromClient {
		return nil, parley.Errorf(parley.EForbidden, "system conversations are read-only for clients")
	}
	convID, err := s.resolveConv(ctx, req.AppID, req.Sender, req.To, req.ConvID)
	if err != nil {
		return nil, err
	}
	if req.FromClient {
		if err := s.checkFile(ctx, req.AppID, convID, req.Kind, req.Body); err != nil {
			return nil, err
		}
		if err := s.checkRevision(ctx, req.AppID, convID, req.Sender, req.Kind, req.Body); err != nil {
			return nil, err
		}
	}
	return &parley.Message{
		AppID:       req.AppID,
		ConvID:      convID,
		ID:          ulid.Make().String(),
		Sender:      req.Sender,
		ClientMsgID: req.ClientMsgID,
		Kind:        req.Kind,
		Body:        req.Body,
		Variants:    req.Variants,
		Time:        s.cfg.Now().UnixMilli(),
	}, nil
}

// resolveConv returns the conversation a send goes to, creating a direct
// conversation on its first message.
func (s *Service) resolveConv(ctx context.Context, appID, sender, to, convID string) (string, error) {
	if to != "" {
		if to == sender {
			return "", parley.Errorf(parley.EInvalid, "cannot send to yourself")
		}
		convID = parley.DirectConvID(sender, to)
	}
	a, b, direct := parley.DirectPeers(convID)
	if _, group := parley.GroupOf(convID); group {
		// The committer checks membership and mutes when it commits,
		// against its view of the group (commitMsgs).
		return convID, nil
	}
	if !direct {
		// Other conversation kinds (consultation threads): membership
		// decides; the system writes into any that exists.
		if err := s.store.IsMember(ctx, appID, convID, sender); err != nil &&
			(sender != parley.SystemUserID || parley.ErrorCode(err) != parley.EForbidden) {
			return "", err
		}
		return convID, nil
	}
	if sender != a && sender != b {
		return "", parley.Errorf(parley.EForbidden, "not a member of this conversation")
	}
	key := appID + "\x00" + convID
	if s.known.has(key) {
		return convID, nil
	}
	for _, u := range []string{a, b} {
		if u == parley.SystemUserID {
			continue
		}
		if _, err := s.store.User(ctx, appID, u); err != nil {
			if parley.ErrorCode(err) == parley.ENotFound {
				return "", parley.Errorf(parley.ENotFound, "no user %q", u)
			}
			return "", err
		}
	}
	conv := parley.Conversation{AppID: appID, ID: convID, Kind: parley.ConvDirect, Members: []string{a, b}}
	if err := s.store.EnsureConversations(ctx, []parley.Conversation{conv}); err != nil {
		return "", err
	}
	s.known.add(key)
	return convID, nil
}
