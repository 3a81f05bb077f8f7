package httpapi

import (
	"net/http"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// maxConvSettingsBody bounds a settings body: three booleans.
const maxConvSettingsBody = 1 << 10

// setConvSettings changes a user's own settings of a conversation, as the
// user's conv_set frame does; the user's online devices are told.
// POST /v1/server/users/{user}/conversations/{conv}/settings {"pin":true,"mute":false,"hide":true}
func (s *Server) setConvSettings(w http.ResponseWriter, r *http.Request, app *parley.App) {
	user, conv := r.PathValue("user"), r.PathValue("conv")
	if !parley.ValidID(user) {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "invalid user id"))
		return
	}
	if conv == "" || len(conv) > parley.MaxConvIDLen {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "conv must be 1-%d bytes", parley.MaxConvIDLen))
		return
	}
	var c parley.ConvSettings
	if err := decode(w, r, maxConvSettingsBody, &c); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	st, err := s.Chat.SetConvSettings(r.Context(), app.ID, user, conv, c, "")
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, st)
}
