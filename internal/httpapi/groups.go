package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/wire"
)

// Groups is the group logic the API needs; *chat.Service implements it.
// The business backend acts as parley.SystemUserID: above every role, but
// bound by the group's structure (docs/protocol.md, "Groups").
type Groups interface {
	CreateGroup(ctx context.Context, req chat.CreateGroupRequest) (chat.GroupResult, error)
	ChangeGroup(ctx context.Context, c parley.GroupChange, skipConn string) (chat.GroupResult, error)
	GroupInfo(ctx context.Context, appID, userID, groupID string) (*parley.Group, error)
	GroupMembers(ctx context.Context, appID, userID, groupID, after string, limit int) (wire.GroupMembersRes, error)
	ReadReceipts(ctx context.Context, appID, userID, convID string, seq uint64) (wire.ReadReceiptsRes, error)
}

// groupTimeout bounds a group change: it waits for the committer.
const groupTimeout = 10 * time.Second

// groupRoutes adds the group endpoints of the server API (routes.go calls
// it); without Groups there are none.
func (s *Server) groupRoutes(mux *http.ServeMux) {
	if s.Groups == nil {
		return
	}
	mux.Handle("POST /v1/server/groups", s.app(s.createGroup))
	mux.Handle("GET /v1/server/groups/{group}", s.app(s.groupInfo))
	mux.Handle("POST /v1/server/groups/{group}/profile", s.app(s.groupProfile))
	mux.Handle("GET /v1/server/groups/{group}/members", s.app(s.groupMembers))
	mux.Handle("POST /v1/server/groups/{group}/members", s.app(s.groupAdd))
	mux.Handle("DELETE /v1/server/groups/{group}/members/{user}", s.app(s.groupRemove))
	mux.Handle("POST /v1/server/groups/{group}/members/{user}/role", s.app(s.groupRole))
	mux.Handle("POST /v1/server/groups/{group}/members/{user}/mute", s.app(s.groupMute))
	mux.Handle("POST /v1/server/groups/{group}/leave", s.app(s.groupLeave))
	mux.Handle("POST /v1/server/groups/{group}/transfer", s.app(s.groupTransfer))
	mux.Handle("POST /v1/server/groups/{group}/mute_all", s.app(s.groupMuteAll))
	mux.Handle("POST /v1/server/groups/{group}/dissolve", s.app(s.groupDissolve))
	mux.Handle("GET /v1/server/conversations/{conv}/receipts", s.app(s.readReceipts))
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		ID         string          `json:"id"`
		Owner      string          `json:"owner"`
		Name       *string         `json:"name"`
		Avatar     *string         `json:"avatar"`
		Notice     *string         `json:"notice"`
		Ext        json.RawMessage `json:"ext"`
		MaxMembers int             `json:"max_members"`
		Members    []string        `json:"members"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), groupTimeout)
	defer cancel()
	res, err := s.Groups.CreateGroup(ctx, chat.CreateGroupRequest{
		AppID: app.ID, Actor: parley.SystemUserID, ID: req.ID, Owner: req.Owner, Members: req.Members,
		MaxMembers: req.MaxMembers,
		Profile:    parley.GroupProfile{Name: req.Name, Avatar: req.Avatar, Notice: req.Notice, Ext: req.Ext},
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, wire.GroupRes{Group: res.Group, Msg: res.Msg})
}

func (s *Server) groupInfo(w http.ResponseWriter, r *http.Request, app *parley.App) {
	g, err := s.Groups.GroupInfo(r.Context(), app.ID, parley.SystemUserID, r.PathValue("group"))
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, wire.GroupRes{Group: g})
}

func (s *Server) groupMembers(w http.ResponseWriter, r *http.Request, app *parley.App) {
	q := r.URL.Query()
	limit := wire.DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > parley.MaxGroupUsersPerChange {
			wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "limit must be 1-%d", parley.MaxGroupUsersPerChange))
			return
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" && !parley.ValidID(after) {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "after must be a user id"))
		return
	}
	res, err := s.Groups.GroupMembers(r.Context(), app.ID, parley.SystemUserID, r.PathValue("group"), after, limit)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, res)
}

// change decodes the body into req (if not nil), lets fill complete the
// change and applies it as the business backend.
func (s *Server) change(w http.ResponseWriter, r *http.Request, app *parley.App, ev parley.GroupEvent, req any, fill func(c *parley.GroupChange) error) {
	if req != nil {
		if err := decode(w, r, maxBody, req); err != nil {
			wire.WriteHTTPError(w, err)
			return
		}
	}
	c := parley.GroupChange{AppID: app.ID, GroupID: r.PathValue("group"), Actor: parley.SystemUserID, Event: ev}
	if u := r.PathValue("user"); u != "" {
		c.Users = []string{u}
	}
	if fill != nil {
		if err := fill(&c); err != nil {
			wire.WriteHTTPError(w, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), groupTimeout)
	defer cancel()
	res, err := s.Groups.ChangeGroup(ctx, c, "")
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, wire.GroupChangeRes{Changed: res.Changed, Msg: res.Msg})
}

func (s *Server) groupProfile(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var p parley.GroupProfile
	s.change(w, r, app, parley.EventProfile, &p, func(c *parley.GroupChange) error {
		c.Profile = p
		return nil
	})
}

func (s *Server) groupAdd(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		Users []string `json:"users"`
	}
	s.change(w, r, app, parley.EventJoined, &req, func(c *parley.GroupChange) error {
		c.Users = req.Users
		return nil
	})
}

func (s *Server) groupRemove(w http.ResponseWriter, r *http.Request, app *parley.App) {
	s.change(w, r, app, parley.EventRemoved, nil, nil)
}

func (s *Server) groupRole(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		Role parley.GroupRole `json:"role"`
	}
	s.change(w, r, app, parley.EventRole, &req, func(c *parley.GroupChange) error {
		c.Role = req.Role
		return nil
	})
}

func (s *Server) groupMute(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		Seconds int64 `json:"seconds"`
	}
	s.change(w, r, app, parley.EventMuted, &req, func(c *parley.GroupChange) error {
		if req.Seconds < 0 || req.Seconds > wire.MaxMuteSeconds {
			return parley.Errorf(parley.EInvalid, "seconds must be 0-%d", wire.MaxMuteSeconds)
		}
		if req.Seconds > 0 {
			c.MutedUntil = s.Now().UnixMilli() + req.Seconds*1000
		}
		return nil
	})
}

func (s *Server) groupLeave(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		User string `json:"user"`
	}
	s.change(w, r, app, parley.EventLeft, &req, func(c *parley.GroupChange) error {
		if !parley.ValidID(req.User) {
			return parley.Errorf(parley.EInvalid, "leave needs the user who leaves")
		}
		c.Actor = req.User
		return nil
	})
}

func (s *Server) groupTransfer(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		To string `json:"to"`
	}
	s.change(w, r, app, parley.EventTransferred, &req, func(c *parley.GroupChange) error {
		c.Users = []string{req.To}
		return nil
	})
}

func (s *Server) groupMuteAll(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		Mute bool `json:"mute"`
	}
	s.change(w, r, app, parley.EventMuteAll, &req, func(c *parley.GroupChange) error {
		c.MuteAll = req.Mute
		return nil
	})
}

func (s *Server) groupDissolve(w http.ResponseWriter, r *http.Request, app *parley.App) {
	s.change(w, r, app, parley.EventDissolved, nil, nil)
}

func (s *Server) readReceipts(w http.ResponseWriter, r *http.Request, app *parley.App) {
	conv := r.PathValue("conv")
	seq, err := strconv.ParseUint(r.URL.Query().Get("seq"), 10, 64)
	if conv == "" || len(conv) > parley.MaxConvIDLen || err != nil || seq == 0 {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "give a conversation id and seq=N (N >= 1)"))
		return
	}
	res, err := s.Groups.ReadReceipts(r.Context(), app.ID, parley.SystemUserID, conv, seq)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, res)
}
