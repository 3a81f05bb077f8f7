package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/parley-im/parley"
)

// commitLoop is the group committer: it takes every send waiting in the
// queue (up to MaxBatch), commits them in one transaction, answers their
// senders and then pushes them, then repeats. Answers go first so that a
// sender learns the seq of its own message before a push of a later
// message of the same batch reaches it; the other way round, its client
// sees a gap and pulls it. Under light load a batch is a
// single message and adds no wait; under heavy load batches grow and the
// cost of a commit is shared.
func (s *Service) commitLoop() {
	defer close(s.done)
	batch := make([]*pending, 0, s.cfg.MaxBatch)
	for {
		select {
		case p := <-s.queue:
			batch = append(batch[:0], p)
		case <-s.stop:
			// Drain what was accepted before stopping.
			for {
				select {
				case p := <-s.queue:
					batch = append(batch[:0], p)
					s.fill(&batch)
					s.commit(batch)
				default:
					return
				}
			}
		}
		s.fill(&batch)
		s.commit(batch)
	}
}

func (s *Service) fill(batch *[]*pending) {
	for len(*batch) < s.cfg.MaxBatch {
		select {
		case p := <-s.queue:
			*batch = append(*batch, p)
		default:
			return
		}
	}
}

func (s *Service) commit(batch []*pending) {
	answered := 0
	defer func() {
		// A panic here is a bug; it must not take the node down, and every
		// sender still waiting must get an answer.
		if v := recover(); v != nil {
			s.log.Error("commit panicked", "err", fmt.Errorf("panic: %v", v), "stack", string(debug.Stack()))
			for _, p := range batch[answered:] {
				s.answer(p.done, SendResult{Err: parley.Errorf(parley.EInternal, "internal error")})
			}
		}
	}()
	ctx := context.Background()
	msgs := make([]*parley.Message, len(batch))
	convs := make([]string, len(batch)) // as asked, before Append may swap in a duplicate
	for i, p := range batch {
		msgs[i] = p.msg
		convs[i] = p.msg.ConvID
	}
	start := time.Now()
	results, err := s.store.Append(ctx, msgs)
	s.m.committed(len(batch), time.Since(start))
	if err != nil {
		s.log.Error("append failed", "err", err, "batch", len(batch))
		for i, p := range batch {
			answered = i + 1
			s.answer(p.done, SendResult{Err: err})
		}
		return
	}
	deliveries := make([]parley.Delivery, 0, len(batch))
	for i, p := range batch {
		r := results[i]
		if r.Err != nil || r.Dup {
			continue
		}
		d, err := s.msgDelivery(ctx, p.msg, p.skip)
		if err != nil {
			s.log.Warn("no push for stored message", "err", err, "msg_id", p.msg.ID, "conv_id", p.msg.ConvID)
			continue
		}
		deliveries = append(deliveries, d)
	}
	for i, p := range batch {
		r := results[i]
		answered = i + 1
		if r.Dup && p.msg.ConvID != convs[i] {
			// The client reused a message id for another conversation:
			// a client bug that must not pass as a successful retry.
			s.answer(p.done, SendResult{Err: parley.Errorf(parley.EConflict, "client message id %q was already used in another conversation", p.msg.ClientMsgID)})
			continue
		}
		s.answer(p.done, SendResult{Msg: p.msg, Dup: r.Dup, Err: r.Err})
	}
	if len(deliveries) > 0 {
		if err := s.push.Push(ctx, deliveries); err != nil {
			// Stored messages reach devices by sync; a failed push only
			// delays them.
			s.log.Warn("push failed", "err", err, "deliveries", len(deliveries))
		}
	}
}

// msgDelivery builds the push of a stored message to every member.
func (s *Service) msgDelivery(ctx context.Context, m *parley.Message, skip string) (parley.Delivery, error) {
	payload, err := json.Marshal(m)
	if err != nil {
		return parley.Delivery{}, err
	}
	members, err := s.members(ctx, m.AppID, m.ConvID)
	if err != nil {
		return parley.Delivery{}, err
	}
	return parley.Delivery{AppID: m.AppID, Users: members, SkipConn: skip, Kind: DeliverMsg, Payload: payload}, nil
}

// members returns who belongs to a conversation; direct conversations
// answer from their id without a store lookup.
func (s *Service) members(ctx context.Context, appID, convID string) ([]string, error) {
	if a, b, ok := parley.DirectPeers(convID); ok {
		return []string{a, b}, nil
	}
	return s.store.Members(ctx, appID, convID)
}
