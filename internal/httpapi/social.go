package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Social serves contacts, profiles and presence; *social.Service
// implements it.
type Social interface {
	UpsertUsers(ctx context.Context, appID string, users []parley.User) (int, error)
	AddContacts(ctx context.Context, appID, userID string, ids []string, alias, skipConn string) (wire.ContactsRes, error)
	RemoveContacts(ctx context.Context, appID, userID string, ids []string, skipConn string) (wire.ContactsRes, error)
	Contacts(ctx context.Context, appID, userID string, since uint64, limit int) (wire.ContactsRes, error)
	Presence(ctx context.Context, appID string, users []string) (wire.PresenceRes, error)
}

// contactsRequest is the body of the contacts endpoints that change a
// list.
type contactsRequest struct {
	Users []string `json:"users"`
	Alias string   `json:"alias"`
}

// contacts lists a user's contacts, or the rows changed since a version.
// GET /v1/server/users/{user}/contacts[?since=N][&limit=N]
func (s *Server) contacts(w http.ResponseWriter, r *http.Request, app *parley.App) {
	user := r.PathValue("user")
	if !parley.ValidID(user) {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "invalid user id"))
		return
	}
	q := r.URL.Query()
	var since uint64
	limit := wire.DefaultLimit
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "since must be a non-negative integer"))
			return
		}
		since = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > wire.MaxLimit {
			wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "limit must be 1-%d", wire.MaxLimit))
			return
		}
		limit = n
	}
	res, err := s.Social.Contacts(r.Context(), app.ID, user, since, limit)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, res)
}

// addContacts adds users to a user's contact list; the user's online
// devices are told.
// POST /v1/server/users/{user}/contacts {"users":[...],"alias":"..."}
func (s *Server) addContacts(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req contactsRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	res, err := s.Social.AddContacts(r.Context(), app.ID, r.PathValue("user"), req.Users, req.Alias, "")
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, res)
}

// removeContacts removes users from a user's contact list.
// POST /v1/server/users/{user}/contacts/remove {"users":[...]}
func (s *Server) removeContacts(w http.ResponseWriter, r *http.Request, app *parley.App) {
	s.withUsers(w, r, func(users []string) (any, error) {
		return s.Social.RemoveContacts(r.Context(), app.ID, r.PathValue("user"), users, "")
	})
}

// presence answers who of the listed users is online, with platforms.
// POST /v1/server/presence {"users":[...]} (at most 1,000)
func (s *Server) presence(w http.ResponseWriter, r *http.Request, app *parley.App) {
	s.withUsers(w, r, func(users []string) (any, error) {
		return s.Social.Presence(r.Context(), app.ID, users)
	})
}

// withUsers serves an endpoint whose body is {"users":[...]}: it decodes
// the body, calls f with the list and answers with f's result.
func (s *Server) withUsers(w http.ResponseWriter, r *http.Request, f func(users []string) (any, error)) {
	var req struct {
		Users []string `json:"users"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	res, err := f(req.Users)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, res)
}
