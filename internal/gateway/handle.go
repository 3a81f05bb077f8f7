package gateway

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/wire"
)

// handle decodes and serves one client frame. reply receives the answer
// (res, err or pong), possibly after handle returns (sends are answered
// when their batch commits). It returns false when the frame gets no
// answer (a valid ack).
func (s *Session) handle(data []byte, reply func([]byte)) bool {
	if s.state.Load() == stateClosed {
		reply(wire.Err("", parley.Errorf(parley.ENotFound, "session ended")))
		return true
	}
	// The frames of the Go client that make up most of a busy node's
	// input, pings and acks, are read without encoding/json.
	if s.state.Load() == stateAuthed {
		if string(data) == wire.PingFrame {
			s.g.m.frameIn(wire.TPing)
			reply(wire.Pong())
			return true
		}
		if ns, ok := wire.DecodeAck(data); ok {
			s.g.m.frameIn(wire.TAck)
			s.ack(ns)
			return false
		}
	}
	in, err := wire.Decode(data)
	id, typ := "", ""
	if in != nil {
		id, typ = in.ID, in.Type
	}
	s.g.m.frameIn(typ)
	if err != nil {
		if s.state.Load() == stateNew {
			// Nothing but a valid auth frame opens a session.
			reply(wire.Err(id, err))
			s.close(wire.CloseProtocol, "first frame must be a valid auth frame")
			return true
		}
		reply(wire.Err(id, err))
		return true
	}
	if s.state.Load() == stateNew {
		if in.Type != wire.TAuth {
			reply(wire.Err(in.ID, parley.Errorf(parley.EUnauthorized, "authenticate first")))
			s.close(wire.CloseProtocol, "first frame must be auth")
			return true
		}
		s.authenticate(in, reply)
		return true
	}
	switch in.Type {
	case wire.TPing:
		reply(wire.Pong())
		return true
	case wire.TAck:
		s.ack(in.N)
		return false
	case wire.TAuth:
		reply(wire.Err(in.ID, parley.Errorf(parley.EConflict, "already authenticated")))
		return true
	}
	if !s.allow() {
		reply(wire.Err(in.ID, parley.Errorf(parley.ERateLimited, "too many requests; slow down")))
		return true
	}
	s.request(in, reply)
	return true
}

func (s *Session) authenticate(in *wire.In, reply func([]byte)) {
	ctx, cancel := context.WithTimeout(context.Background(), s.g.cfg.RequestTimeout)
	defer cancel()
	id, err := s.g.auth.Authenticate(ctx, in.Token, in.Device)
	if err != nil {
		reply(wire.Err(in.ID, err))
		if parley.ErrorCode(err) == parley.EUnauthorized {
			s.close(wire.CloseUnauthorized, parley.ErrorMessage(err))
		} else {
			// Not the token's fault: the client may retry.
			s.g.log.Error("authentication failed", "err", err, "conn_id", s.connID)
			s.close(wire.CloseInternal, "could not check the token; retry")
		}
		return
	}
	if err := s.g.attach(ctx, s, id, in.Device, parley.Platform(in.Platform)); err != nil {
		reply(wire.Err(in.ID, err))
		s.close(wire.CloseInternal, "could not register the session")
		return
	}
	reply(wire.Res(in.ID, s.authRes()))
}

func (s *Session) authRes() wire.AuthRes {
	return wire.AuthRes{User: s.user, Conn: s.connID, Node: s.g.cfg.Node, Heartbeat: int(s.g.cfg.Heartbeat.Seconds()),
		RetryMS: s.g.cfg.RetryInterval.Milliseconds()}
}

// attach makes an authenticated session reachable: in the hub, so that
// local deliveries find it, and in the registry, so that other nodes do.
// A session of the same device on this node is replaced.
func (g *Gateway) attach(ctx context.Context, s *Session, id Identity, device string, p parley.Platform) error {
	s.app, s.user, s.device, s.platform, s.role = id.AppID, id.UserID, device, p, id.Role
	if s.role == "" {
		s.role = parley.RoleUser
	}
	if !s.state.CompareAndSwap(stateNew, stateAuthed) {
		return parley.Errorf(parley.EUnavailable, "session closed")
	}
	g.m.authed(s.tr)
	if old := g.hub.add(s); old != nil {
		old.close(wire.CloseReplaced, "replaced by a newer connection of the same device")
	}
	err := g.reg.Register(ctx, parley.ConnInfo{
		AppID: s.app, UserID: s.user, ConnID: s.connID, Node: g.cfg.Node,
		Device: device, Platform: p, ClientIP: s.ip, Since: g.cfg.Now(),
	})
	if err != nil {
		g.log.Error("register failed", "err", err, "conn_id", s.connID)
		return err
	}
	// The connection may have ended while it was being attached: Closed
	// then ran before add or Register and removed nothing. Undo both so
	// that no dead session stays reachable. (Closed sets the state before
	// it removes, so one of the two always cleans up.)
	if s.state.Load() == stateClosed {
		g.hub.remove(s)
		if err := g.reg.Unregister(ctx, s.app, s.user, s.connID); err != nil {
			g.log.Warn("unregister failed", "err", err, "conn_id", s.connID)
		}
		return parley.Errorf(parley.EUnavailable, "session closed")
	}
	return nil
}

// request serves the frames that need an authenticated session.
func (s *Session) request(in *wire.In, reply func([]byte)) {
	if in.Type == wire.TSend {
		ctx, cancel := context.WithTimeout(context.Background(), s.g.cfg.RequestTimeout)
		s.g.chat.SendAsync(ctx, chat.SendRequest{
			AppID: s.app, Sender: s.user, To: in.To, ConvID: in.Conv,
			ClientMsgID: in.CMID, Kind: parley.Kind(in.Kind), Body: in.Body,
			FromClient: true, SkipConn: s.connID,
		}, func(r chat.SendResult) {
			cancel()
			if r.Err != nil {
				reply(wire.Err(in.ID, r.Err))
				return
			}
			reply(wire.Res(in.ID, s.render(wire.SendRes{Msg: r.Msg, Dup: r.Dup})))
		})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.g.cfg.RequestTimeout)
	defer cancel()
	var (
		res any
		err error
	)
	switch in.Type {
	case wire.TSync:
		res, err = s.g.chat.Sync(ctx, s.app, s.user, in.Since, in.LimitOr(wire.DefaultLimit))
	case wire.TPull:
		res, err = s.g.chat.Pull(ctx, s.app, s.user, in.Conv, parley.MessageRange{
			After: in.After, Before: in.Before, Limit: in.LimitOr(wire.DefaultLimit), Newest: in.Newest,
		})
	case wire.TRead:
		res, err = s.g.chat.Read(ctx, s.app, s.user, in.Conv, in.Seq, s.connID)
	case wire.TConvs:
		res, err = s.g.chat.Conversations(ctx, s.app, s.user, in.Before, in.LimitOr(wire.DefaultLimit))
	case wire.TSearch:
		res, err = s.g.chat.Search(ctx, s.app, s.user, in.SearchQuery())
	case wire.TConvSet:
		res, err = s.g.chat.SetConvSettings(ctx, s.app, s.user, in.Conv, *in.Settings, s.connID)
	case wire.TTyping:
		if err = s.typingAllowed(in.Conv); err == nil {
			err = s.g.chat.Typing(ctx, s.app, s.user, in.Conv, s.connID)
		}
		res = struct{}{}
	case wire.TConsultOpen, wire.TConsultInfo, wire.TConsultStatus, wire.TConsultResolve, wire.TConsultTransfer,
		wire.TConsultRate, wire.TConsultCanned, wire.TConsultView, wire.TConsultWatch, wire.TConsultUnwatch:
		res, err = s.consult(ctx, in)
	case wire.TContactsAdd, wire.TContactsRemove, wire.TContacts, wire.TProfiles, wire.TPresence:
		res, err = s.social(ctx, in)
	case wire.TGroupCreate, wire.TGroupInfo, wire.TGroupUpdate, wire.TGroupMembers, wire.TGroupAdd, wire.TGroupRemove,
		wire.TGroupLeave, wire.TGroupRole, wire.TGroupTransfer, wire.TGroupMute, wire.TGroupMuteAll,
		wire.TGroupDissolve, wire.TReadReceipts:
		res, err = s.group(ctx, in)
	default:
		err = parley.Errorf(parley.EBadFrame, "unknown frame type")
	}
	if err != nil {
		if parley.ErrorCode(err) == parley.EInternal {
			s.g.log.Error("request failed", "err", err, "conn_id", s.connID, "type", in.Type)
		}
		reply(wire.Err(in.ID, err))
		return
	}
	reply(wire.Res(in.ID, s.render(res)))
}
