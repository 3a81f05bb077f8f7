package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/wire"
)

// Limits of the server API.
const (
	maxBody          = 1 << 20 // bytes of a request body
	maxBroadcastBody = 8 << 20 // bytes of a broadcast body (long user lists)
	maxUsersPerCall  = 1000    // users in one upsert
	defaultTokenTTL  = 24 * time.Hour
)

// app authenticates a server API request by its API key and passes the
// app to h.
func (s *Server) app(h func(w http.ResponseWriter, r *http.Request, app *parley.App)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			wire.WriteHTTPError(w, parley.Errorf(parley.EUnauthorized, "missing Authorization: Bearer <API key>"))
			return
		}
		appID, secret, err := auth.ParseAPIKey(key)
		if err != nil {
			wire.WriteHTTPError(w, err)
			return
		}
		app, err := s.Store.App(r.Context(), appID)
		if err != nil || !auth.CheckAPIKey(secret, app.KeyHash) {
			if err != nil && parley.ErrorCode(err) != parley.ENotFound {
				s.Logger.Error("app lookup failed", "err", err, "app_id", appID)
				wire.WriteHTTPError(w, err)
				return
			}
			wire.WriteHTTPError(w, parley.Errorf(parley.EUnauthorized, "invalid API key"))
			return
		}
		h(w, r, app)
	})
}

// decode reads a JSON body of at most limit bytes into v.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	b, err := wire.ReadBody(w, r, limit)
	if err != nil {
		return err
	}
	return decodeBytes(b, v)
}

// decodeOptional is decode for endpoints whose body may be empty.
func decodeOptional(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	b, err := wire.ReadBody(w, r, limit)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return err
	}
	return decodeBytes(b, v)
}

func decodeBytes(b []byte, v any) error {
	// encoding/json would quietly replace invalid UTF-8 in strings.
	if !utf8.Valid(b) {
		return parley.Errorf(parley.EInvalid, "body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return parley.Errorf(parley.EInvalid, "body is not valid JSON for this endpoint: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return parley.Errorf(parley.EInvalid, "body holds more than one JSON value")
	}
	return nil
}

func (s *Server) upsertUsers(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		Users []parley.User `json:"users"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	if len(req.Users) == 0 || len(req.Users) > maxUsersPerCall {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "users must hold 1-%d users", maxUsersPerCall))
		return
	}
	now := s.Now()
	for i := range req.Users {
		u := &req.Users[i]
		if err := u.Validate(); err != nil {
			wire.WriteHTTPError(w, &parley.Error{Code: parley.ErrorCode(err), Message: "users[" + strconv.Itoa(i) + "]: " + parley.ErrorMessage(err)})
			return
		}
		u.AppID, u.CreatedAt, u.UpdatedAt, u.Ver = app.ID, now, now, 0
	}
	if s.Social == nil {
		if err := s.Store.UpsertUsers(r.Context(), app.ID, req.Users); err != nil {
			s.fail(w, err)
			return
		}
		wire.WriteJSON(w, http.StatusOK, map[string]int{"upserted": len(req.Users)})
		return
	}
	// Pushes the changed profiles to the users who care (social.go).
	changed, err := s.Social.UpsertUsers(r.Context(), app.ID, req.Users)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, map[string]int{"upserted": len(req.Users), "changed": changed})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, app *parley.App) {
	id := r.PathValue("user")
	if !parley.ValidID(id) {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "invalid user id"))
		return
	}
	u, err := s.Store.User(r.Context(), app.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, u)
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		User       string `json:"user"`
		Device     string `json:"device"`
		TTLSeconds int64  `json:"ttl_seconds"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	if !parley.ValidID(req.User) || (req.Device != "" && !parley.ValidID(req.Device)) {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "invalid user or device id"))
		return
	}
	ttl := defaultTokenTTL
	if req.TTLSeconds != 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > int64(auth.MaxTokenTTL/time.Second) || ttl < auth.MinTokenTTL || ttl > auth.MaxTokenTTL {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "ttl_seconds must be between %d and %d", int(auth.MinTokenTTL.Seconds()), int(auth.MaxTokenTTL.Seconds())))
		return
	}
	if _, err := s.Store.User(r.Context(), app.ID, req.User); err != nil {
		s.fail(w, err)
		return
	}
	now := s.Now()
	// A token issued in the millisecond of a revocation counts as
	// revoked, so one issued right after it starts at the next one.
	revoked, err := s.Store.RevokedBefore(r.Context(), app.ID, req.User, req.Device)
	if err != nil {
		s.fail(w, err)
		return
	}
	now = auth.IssueTime(now, revoked)
	claims := auth.Claims{AppID: app.ID, UserID: req.User, Device: req.Device, IssuedAt: now, ExpiresAt: now.Add(ttl)}
	tok, err := auth.IssueToken(app, claims)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_at": claims.ExpiresAt.UTC().Format(time.RFC3339)})
}

// revoke invalidates the user's tokens issued until now (on one device or
// all) and ends their live sessions.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request, app *parley.App) {
	user := r.PathValue("user")
	var req struct {
		Device string `json:"device"`
	}
	if err := decodeOptional(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	if !parley.ValidID(user) || (req.Device != "" && !parley.ValidID(req.Device)) {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "invalid user or device id"))
		return
	}
	at := s.Now()
	if err := s.Store.RevokeSessions(r.Context(), app.ID, user, req.Device, at); err != nil {
		s.fail(w, err)
		return
	}
	// Revocations count whole milliseconds: a token issued in the same
	// millisecond is revoked too. auth.IssueTime moves a token past the
	// revocations it is checked against when issued, but a token for any
	// device is not checked against one device's. So the answer waits
	// out the revocation's millisecond (at most 1 ms; nothing with a
	// clock that is not the wall's): a token asked for after it is valid.
	if d := time.Until(at.Truncate(time.Millisecond).Add(time.Millisecond)); d > 0 && d <= time.Millisecond {
		time.Sleep(d)
	}
	kick := parley.Delivery{AppID: app.ID, Users: []string{user}, Kind: gateway.DeliverKick, Payload: []byte(req.Device)}
	if err := s.Push.Push(r.Context(), []parley.Delivery{kick}); err != nil {
		s.Logger.Warn("kick push failed", "err", err, "user_id", user)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		From     string           `json:"from"`
		To       string           `json:"to"`
		Conv     string           `json:"conv"`
		CMID     string           `json:"cmid"`
		Kind     parley.Kind      `json:"kind"`
		Body     json.RawMessage  `json:"body"`
		Variants []parley.Variant `json:"variants"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	if req.From == "" {
		req.From = parley.SystemUserID
	} else if !parley.ValidID(req.From) {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "from is not a valid user id"))
		return
	}
	if (req.To == "") == (req.Conv == "") || (req.To != "" && !parley.ValidID(req.To)) || len(req.Conv) > parley.MaxConvIDLen {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "give exactly one of a valid to (user id) and conv"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	res := s.Chat.Send(ctx, chat.SendRequest{
		AppID: app.ID, Sender: req.From, To: req.To, ConvID: req.Conv,
		ClientMsgID: req.CMID, Kind: req.Kind, Body: req.Body, Variants: req.Variants,
	})
	if res.Err != nil {
		s.fail(w, res.Err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, wire.SendRes{Msg: res.Msg, Dup: res.Dup})
}

func (s *Server) broadcast(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		Users    []string         `json:"users"`
		All      bool             `json:"all"`
		Kind     parley.Kind      `json:"kind"`
		Body     json.RawMessage  `json:"body"`
		Variants []parley.Variant `json:"variants"`
	}
	if err := decode(w, r, maxBroadcastBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	// A broadcast runs to its end even if the caller goes away: stopping
	// half-way would leave some users with the message and some without.
	ctx := context.WithoutCancel(r.Context())
	n, err := s.Chat.Broadcast(ctx, chat.BroadcastRequest{AppID: app.ID, Users: req.Users, All: req.All, Kind: req.Kind, Body: req.Body, Variants: req.Variants})
	if err != nil {
		if n > 0 {
			s.Logger.Error("broadcast stopped part-way", "err", err, "app_id", app.ID, "stored", n)
		}
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, map[string]int{"stored": n})
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, app *parley.App) {
	conv := r.PathValue("conv")
	if conv == "" || len(conv) > parley.MaxConvIDLen {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "invalid conversation id"))
		return
	}
	q := r.URL.Query()
	var mr parley.MessageRange
	var err error
	parse := func(name string) uint64 {
		v := q.Get(name)
		if v == "" || err != nil {
			return 0
		}
		n, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil {
			err = parley.Errorf(parley.EInvalid, "%s must be a non-negative integer", name)
		}
		return n
	}
	mr.After, mr.Before = parse("after"), parse("before")
	limit := parse("limit")
	if err == nil && limit > wire.MaxLimit {
		err = parley.Errorf(parley.EInvalid, "limit must be at most %d", wire.MaxLimit)
	}
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	mr.Limit = int(limit)
	if mr.Limit == 0 {
		mr.Limit = wire.DefaultLimit
	}
	mr.Newest = q.Get("newest") == "true"
	res, err := s.Chat.History(r.Context(), app.ID, conv, mr)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, res)
}

// fail answers with err, logging internal errors once here.
func (s *Server) fail(w http.ResponseWriter, err error) {
	if parley.ErrorCode(err) == parley.EInternal {
		s.Logger.Error("request failed", "err", err)
	}
	wire.WriteHTTPError(w, err)
}
