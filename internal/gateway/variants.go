package gateway

import (
	"encoding/json"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/wire"
)

// variantPushes renders the push of a message with variants
// (chat.DeliverMsgVariants) for the sessions of one Deliver call: the
// message is decoded once, and each (role, platform) pair is encoded once
// and shared by every session of that pair, as ordinary pushes share
// their payload. Deliveries of other kinds pay nothing: renderVariants
// returns nil for them. It is used by one goroutine.
type variantPushes struct {
	msg  *parley.Message
	bad  bool // the payload could not be decoded: nothing is pushed
	done map[[2]string]*parley.Delivery
}

// renderVariants returns the renderer of a delivery of a message with
// variants, nil for any other delivery.
func renderVariants(d *parley.Delivery) *variantPushes {
	if d.Kind != chat.DeliverMsgVariants {
		return nil
	}
	v := &variantPushes{msg: new(parley.Message), done: make(map[[2]string]*parley.Delivery, 4)}
	if err := json.Unmarshal(d.Payload, v.msg); err != nil {
		v.bad = true
	}
	return v
}

// forSession returns the delivery s gets: d itself for a delivery without
// variants, otherwise a message push holding only the variant meant for
// s (parley.Message.For). Never the whole message: a payload that cannot
// be rendered gives a delivery of no kind, which sessions ignore (the
// device finds the message by sync).
func (v *variantPushes) forSession(s *Session, d *parley.Delivery) *parley.Delivery {
	if v == nil {
		return d
	}
	if v.bad {
		return &parley.Delivery{}
	}
	k := [2]string{string(s.role), string(s.platform)}
	if r, ok := v.done[k]; ok {
		return r
	}
	// Users stays: the fan-out writers tell a busy group's messages by
	// their recipients on the node (holdMinUsers).
	r := &parley.Delivery{AppID: d.AppID, Users: d.Users, Kind: chat.DeliverMsg}
	if b, err := json.Marshal(v.msg.For(s.role, s.platform)); err == nil {
		r.Payload = b
	} else {
		r.Kind = ""
	}
	v.done[k] = r
	return r
}

// render gives the messages of a request's answer the variants meant for
// this session, in place. Every answer that carries stored messages to a
// device goes through it (send, pull, conversation list, search); a
// device never receives a message's variants. (A send answer can hold
// some: the stored original of a retried cmid, which the business
// backend may have sent as the user with variants.)
func (s *Session) render(res any) any {
	switch r := res.(type) {
	case wire.SendRes:
		if r.Msg != nil {
			r.Msg = r.Msg.For(s.role, s.platform)
		}
		return r
	case wire.PullRes:
		parley.RenderFor(r.Msgs, s.role, s.platform)
	case wire.SearchRes:
		parley.RenderFor(r.Msgs, s.role, s.platform)
	case wire.ConvsRes:
		for i := range r.Convs {
			if r.Convs[i].Last != nil {
				r.Convs[i].Last = r.Convs[i].Last.For(s.role, s.platform)
			}
		}
	}
	return res
}
