package httpapi

import (
	"net/http"
	"strconv"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// search finds messages for a user, as the user's own search frame would:
// only in the user's conversations, and a conversation filter the user
// does not belong to is forbidden.
// GET /v1/server/users/{user}/search?q=...[&conv=...][&before=N][&limit=N]
func (s *Server) search(w http.ResponseWriter, r *http.Request, app *parley.App) {
	user := r.PathValue("user")
	if !parley.ValidID(user) {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "invalid user id"))
		return
	}
	p := r.URL.Query()
	q := parley.SearchQuery{Text: p.Get("q"), ConvID: p.Get("conv")}
	for _, f := range []struct {
		name string
		max  uint64
		set  func(uint64)
	}{
		{"before", 1<<63 - 1, func(v uint64) { q.Before = v }},
		{"limit", parley.MaxSearchLimit, func(v uint64) { q.Limit = int(v) }},
	} {
		v := p.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > f.max {
			wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "%s must be an integer from 0 to %d", f.name, f.max))
			return
		}
		f.set(n)
	}
	res, err := s.Chat.Search(r.Context(), app.ID, user, q)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, res)
}
