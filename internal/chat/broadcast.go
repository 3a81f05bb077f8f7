package chat

import (
	"context"
	"encoding/json"

	"github.com/oklog/ulid/v2"
	"github.com/parley-im/parley"
)

// broadcastChunk is how many recipients one broadcast transaction covers.
const broadcastChunk = 1000

// MaxBroadcastList is the most recipients a listed broadcast may name.
const MaxBroadcastList = 100_000

// BroadcastRequest sends one system message to many users: to the listed
// users, or to every user of the app when All is set.
type BroadcastRequest struct {
	AppID string
	Users []string
	All   bool
	Kind  parley.Kind
	Body  json.RawMessage
	// Variants render the message per role and platform (parley.Variant).
	Variants []parley.Variant
}

// Broadcast stores the message once in each recipient's conversation with
// the system (so offline users find it on sync) in batches of a thousand
// recipients per transaction, and pushes each batch to the online ones.
// It returns for how many users the message was stored, also when it
// stops early on an error. Unknown users in a list are skipped and not
// counted; a user listed twice gets one message.
func (s *Service) Broadcast(ctx context.Context, req BroadcastRequest) (int, error) {
	if req.Kind == "" {
		req.Kind = parley.KindSystem
	}
	if err := parley.ValidateBody(req.Kind, req.Body, false); err != nil {
		return 0, err
	}
	if err := parley.ValidateVariants(req.Kind, req.Variants); err != nil {
		return 0, err
	}
	if req.All == (len(req.Users) > 0) {
		return 0, parley.Errorf(parley.EInvalid, "broadcast needs either a user list or all")
	}
	if len(req.Users) > MaxBroadcastList {
		return 0, parley.Errorf(parley.ETooLarge, "at most %d users per broadcast", MaxBroadcastList)
	}
	seen := make(map[string]struct{}, len(req.Users))
	users := req.Users[:0:0]
	for _, u := range req.Users {
		if !parley.ValidID(u) {
			return 0, parley.Errorf(parley.EInvalid, "%q is not a valid user id", u)
		}
		if _, dup := seen[u]; !dup {
			seen[u] = struct{}{}
			users = append(users, u)
		}
	}
	req.Users = users
	total := 0
	if !req.All {
		for i := 0; i < len(req.Users); i += broadcastChunk {
			n, err := s.broadcastChunk(ctx, req, req.Users[i:min(i+broadcastChunk, len(req.Users))], true)
			total += n
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
	after := ""
	for {
		ids, err := s.store.UserIDs(ctx, req.AppID, after, broadcastChunk)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := s.broadcastChunk(ctx, req, ids, false)
		total += n
		if err != nil {
			return total, err
		}
		after = ids[len(ids)-1]
	}
}

// broadcastChunk stores and pushes the message for up to a chunk of
// users. Nearly every recipient of a broadcast already has a conversation
// with the system, so the messages are appended first; only the users
// whose conversation is missing are then checked (when check is set: a
// listed broadcast), given one, and appended to in a second transaction.
// A conversation with the system is only ever created for a user that
// exists (here and in Send), and users are never deleted, so an existing
// one vouches for its user.
func (s *Service) broadcastChunk(ctx context.Context, req BroadcastRequest, users []string, check bool) (int, error) {
	now := s.cfg.Now().UnixMilli()
	n, missing, err := s.broadcastAppend(ctx, req, users, now)
	if err != nil || len(missing) == 0 {
		return n, err
	}
	exist := missing[:0]
	for _, u := range missing {
		if check {
			if _, err := s.store.User(ctx, req.AppID, u); err != nil {
				if parley.ErrorCode(err) == parley.ENotFound {
					continue
				}
				return n, err
			}
		}
		exist = append(exist, u)
	}
	if len(exist) == 0 {
		return n, nil
	}
	convs := make([]parley.Conversation, len(exist))
	for i, u := range exist {
		convs[i] = systemConv(req.AppID, u)
	}
	if err := s.store.EnsureConversations(ctx, convs); err != nil {
		return n, err
	}
	m, _, err := s.broadcastAppend(ctx, req, exist, now)
	return n + m, err
}

// systemConv is user's conversation with the system.
func systemConv(appID, user string) parley.Conversation {
	return parley.Conversation{
		AppID: appID, ID: parley.DirectConvID(parley.SystemUserID, user),
		Kind: parley.ConvDirect, Members: []string{parley.SystemUserID, user},
	}
}

// broadcastAppend appends the message to each user's conversation with
// the system in one transaction and pushes those stored. It returns how
// many were stored and the users whose conversation does not exist.
func (s *Service) broadcastAppend(ctx context.Context, req BroadcastRequest, users []string, now int64) (int, []string, error) {
	msgs := make([]*parley.Message, len(users))
	for i, u := range users {
		msgs[i] = &parley.Message{
			AppID: req.AppID, ConvID: parley.DirectConvID(parley.SystemUserID, u), ID: ulid.Make().String(),
			Sender: parley.SystemUserID, Kind: req.Kind, Body: req.Body, Variants: req.Variants, Time: now,
		}
	}
	results, err := s.store.Append(ctx, msgs)
	if err != nil {
		return 0, nil, err
	}
	var missing []string
	ds := make([]parley.Delivery, 0, len(msgs))
	n := 0
	for i, m := range msgs {
		if err := results[i].Err; err != nil {
			if parley.ErrorCode(err) == parley.ENotFound {
				missing = append(missing, users[i])
			}
			continue
		}
		n++
		payload, err := json.Marshal(m)
		if err != nil {
			continue
		}
		ds = append(ds, parley.Delivery{AppID: req.AppID, Users: []string{users[i]}, Kind: msgKind(m), Payload: payload})
	}
	s.m.broadcasted(n)
	if len(ds) > 0 {
		if err := s.push.Push(ctx, ds); err != nil {
			s.log.Debug("broadcast push failed", "err", err, "app_id", req.AppID)
		}
	}
	return n, missing, nil
}
