package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/wire"
)

// Events serves the event stream's replay and webhook endpoints;
// *events.Service implements it.
type Events interface {
	Read(ctx context.Context, app string, after uint64, limit int, wait time.Duration) (events.Page, error)
	PutWebhook(ctx context.Context, app, url, secret string, after *uint64) (*events.Webhook, error)
	Webhook(ctx context.Context, app string) (*events.Webhook, error)
	DeleteWebhook(ctx context.Context, app string) error
	DeadLetters(ctx context.Context, app string, after int64, limit int) ([]events.DeadLetter, error)
}

// Bounds of the event endpoints (docs/protocol.md, "Event stream").
const (
	defaultEventsLimit = 100
	maxWebhookBody     = 4 << 10
)

func (s *Server) eventRoutes(mux *http.ServeMux) {
	if s.Events == nil {
		return
	}
	mux.Handle("GET /v1/server/events", s.app(s.readEvents))
	mux.Handle("PUT /v1/server/webhook", s.app(s.putWebhook))
	mux.Handle("GET /v1/server/webhook", s.app(s.getWebhook))
	mux.Handle("DELETE /v1/server/webhook", s.app(s.deleteWebhook))
	mux.Handle("GET /v1/server/webhook/dead", s.app(s.deadLetters))
}

// queryUint reads a non-negative integer query parameter (def when
// absent) of at most max.
func queryUint(r *http.Request, name string, def, max uint64, msg string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil || n > max {
		return 0, parley.Errorf(parley.EInvalid, "%s", msg)
	}
	return n, nil
}

// queryPage reads the after (a non-negative integer, 0 when absent) and
// limit (1-1000, 100 when absent) parameters.
func queryPage(r *http.Request) (after uint64, limit int, err error) {
	after, err = queryUint(r, "after", 0, 1<<63-1, "after must be a non-negative integer")
	if err != nil {
		return 0, 0, err
	}
	n, err := queryUint(r, "limit", defaultEventsLimit, events.MaxRead, "limit must be 1-1000")
	if err == nil && n == 0 {
		err = parley.Errorf(parley.EInvalid, "limit must be 1-1000")
	}
	return after, int(n), err
}

// readEvents replays the app's events after an offset, waiting up to
// wait seconds for one when there are none yet.
// GET /v1/server/events?after=N&limit=N&wait=S
func (s *Server) readEvents(w http.ResponseWriter, r *http.Request, app *parley.App) {
	after, limit, err := queryPage(r)
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	wait, err := queryUint(r, "wait", 0, uint64(events.MaxWait/time.Second), "wait must be 0-30 seconds")
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	p, err := s.Events.Read(r.Context(), app.ID, after, limit, time.Duration(wait)*time.Second)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, p)
}

// webhookRequest is the body of PUT /v1/server/webhook.
type webhookRequest struct {
	URL    string  `json:"url"`
	Secret string  `json:"secret"`
	After  *uint64 `json:"after"`
}

// putWebhook sets the app's webhook.
// PUT /v1/server/webhook {"url":"https://...","secret":"...","after":N}
func (s *Server) putWebhook(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req webhookRequest
	if err := decode(w, r, maxWebhookBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	h, err := s.Events.PutWebhook(r.Context(), app.ID, req.URL, req.Secret, req.After)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, h)
}

// getWebhook answers the app's webhook, without its secret.
// GET /v1/server/webhook
func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, app *parley.App) {
	h, err := s.Events.Webhook(r.Context(), app.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, h)
}

// deleteWebhook stops delivery to the app's webhook and forgets it.
// DELETE /v1/server/webhook
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, app *parley.App) {
	if err := s.Events.DeleteWebhook(r.Context(), app.ID); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deadLetters lists the batches the app's webhook gave up on.
// GET /v1/server/webhook/dead?after=ID&limit=N
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request, app *parley.App) {
	after, limit, err := queryPage(r)
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	ds, err := s.Events.DeadLetters(r.Context(), app.ID, int64(after), limit)
	if err != nil {
		s.fail(w, err)
		return
	}
	next := int64(after)
	if len(ds) > 0 {
		next = ds[len(ds)-1].ID
	}
	wire.WriteJSON(w, http.StatusOK, struct {
		Dead []events.DeadLetter `json:"dead"`
		Next int64               `json:"next"`
	}{ds, next})
}
