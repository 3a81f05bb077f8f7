package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Settings reads and changes apps' feature switches; *settings.Service
// implements it.
type Settings interface {
	Get(ctx context.Context, appID string) (parley.AppSettings, parley.Settings, error)
	Update(ctx context.Context, appID string, p parley.AppSettingsPatch) (parley.AppSettings, parley.Settings, error)
}

// maxSettingsBody bounds a settings body (64 file types of 127 bytes fit
// many times over).
const maxSettingsBody = 64 << 10

// settingsRes is the answer of both settings endpoints: the settings in
// force, and the app's own (the fields it set; the others follow the
// node's defaults).
type settingsRes struct {
	Settings parley.Settings    `json:"settings"`
	App      parley.AppSettings `json:"app"`
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, app *parley.App) {
	own, eff, err := s.Settings.Get(r.Context(), app.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, settingsRes{Settings: eff, App: own})
}

// patchSettings changes the app's settings: a field with a value sets it,
// a field with null returns it to the node's default, an absent field
// stays.
func (s *Server) patchSettings(w http.ResponseWriter, r *http.Request, app *parley.App) {
	p, err := decodeSettingsPatch(w, r)
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	own, eff, err := s.Settings.Update(r.Context(), app.ID, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, settingsRes{Settings: eff, App: own})
}

// decodeSettingsPatch reads a PATCH body: a JSON object whose members are
// settings (unknown ones refused), each a value or null.
func decodeSettingsPatch(w http.ResponseWriter, r *http.Request) (parley.AppSettingsPatch, error) {
	var p parley.AppSettingsPatch
	var fields map[string]json.RawMessage
	b, err := wire.ReadBody(w, r, maxSettingsBody)
	if err != nil {
		return p, err
	}
	if err := decodeBytes(b, &fields); err != nil {
		return p, err
	}
	if fields == nil {
		return p, parley.Errorf(parley.EInvalid, "body must be a JSON object of settings")
	}
	names := slices.Sorted(maps.Keys(fields)) // the first unknown name reported is the same every time
	set := map[string]json.RawMessage{}
	for _, name := range names {
		switch v := fields[name]; {
		case !parley.ValidSettingName(name):
			return p, parley.Errorf(parley.EInvalid, "unknown setting %q", truncate(name, 64))
		case bytes.Equal(v, []byte("null")):
			p.Reset = append(p.Reset, name)
		default:
			set[name] = v
		}
	}
	if len(set) > 0 {
		// Typed decoding of the values: a value of the wrong type is
		// refused.
		js, _ := json.Marshal(set)
		if err := decodeBytes(js, &p.Set); err != nil {
			return p, err
		}
	}
	return p, p.Validate()
}

// settingsRoutes adds the settings endpoints when there is a Settings.
func (s *Server) settingsRoutes(mux *http.ServeMux) {
	if s.Settings == nil {
		return
	}
	mux.Handle("GET /v1/server/settings", s.app(s.getSettings))
	mux.Handle("PATCH /v1/server/settings", s.app(s.patchSettings))
}
