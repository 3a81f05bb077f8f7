package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
	"github.com/parley-im/parley/wire"
)

// Consult is the customer service the API needs; *consult.Service
// implements it. The business backend acts as parley.SystemUserID: it
// configures shops, queues and agents, opens, resolves and transfers
// consultations, and reads the supervisor's view and the metrics.
type Consult interface {
	PutShop(ctx context.Context, s *parley.Shop) error
	Shop(ctx context.Context, appID, id string) (*parley.Shop, error)
	PutQueue(ctx context.Context, q *parley.ConsultQueue) error
	PutAgent(ctx context.Context, a *parley.Agent) error
	Agents(ctx context.Context, appID, shop string) ([]parley.Agent, error)
	SetStatus(ctx context.Context, appID, agent string, st parley.AgentStatus) (*parley.Agent, error)
	Open(ctx context.Context, req consult.OpenRequest) (*parley.Consultation, error)
	Info(ctx context.Context, appID, viewer, id string) (wire.ConsultRes, error)
	Consults(ctx context.Context, appID string, f consult.Filter) ([]parley.Consultation, error)
	Resolve(ctx context.Context, appID, by, id string) (*parley.Consultation, error)
	Transfer(ctx context.Context, req consult.TransferRequest) (*parley.Consultation, error)
	View(ctx context.Context, appID, viewer, shop string) (wire.ConsultViewRes, error)
	Watch(ctx context.Context, appID, viewer, id string, r parley.MessageRange) (wire.PullRes, error)
	Metrics(ctx context.Context, appID string, q consult.Query) (*consult.Report, error)
}

// consultRoutes adds the customer-service endpoints (routes.go calls
// it); without Consult there are none.
func (s *Server) consultRoutes(mux *http.ServeMux) {
	if s.Consult == nil {
		return
	}
	mux.Handle("PUT /v1/server/consult/shops/{shop}", s.app(s.putShop))
	mux.Handle("GET /v1/server/consult/shops/{shop}", s.app(s.getShop))
	mux.Handle("PUT /v1/server/consult/queues/{queue}", s.app(s.putQueue))
	mux.Handle("PUT /v1/server/consult/agents/{agent}", s.app(s.putAgent))
	mux.Handle("GET /v1/server/consult/agents", s.app(s.listAgents))
	mux.Handle("POST /v1/server/consult/agents/{agent}/status", s.app(s.agentStatus))
	mux.Handle("POST /v1/server/consult/consultations", s.app(s.openConsult))
	mux.Handle("GET /v1/server/consult/consultations", s.app(s.listConsults))
	mux.Handle("GET /v1/server/consult/consultations/{id}", s.app(s.getConsult))
	mux.Handle("POST /v1/server/consult/consultations/{id}/resolve", s.app(s.resolveConsult))
	mux.Handle("POST /v1/server/consult/consultations/{id}/transfer", s.app(s.transferConsult))
	mux.Handle("GET /v1/server/consult/consultations/{id}/messages", s.app(s.watchConsult))
	mux.Handle("GET /v1/server/consult/view", s.app(s.consultView))
	mux.Handle("GET /v1/server/consult/metrics", s.app(s.consultMetrics))
}

// answer writes v, or the error.
func (s *Server) answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, v)
}

func (s *Server) putShop(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var sh parley.Shop
	if err := decode(w, r, maxBody, &sh); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	sh.AppID, sh.ID = app.ID, r.PathValue("shop")
	s.answer(w, &sh, s.Consult.PutShop(r.Context(), &sh))
}

func (s *Server) getShop(w http.ResponseWriter, r *http.Request, app *parley.App) {
	sh, err := s.Consult.Shop(r.Context(), app.ID, r.PathValue("shop"))
	s.answer(w, sh, err)
}

func (s *Server) putQueue(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var q parley.ConsultQueue
	if err := decode(w, r, maxBody, &q); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	q.AppID, q.ID = app.ID, r.PathValue("queue")
	s.answer(w, &q, s.Consult.PutQueue(r.Context(), &q))
}

func (s *Server) putAgent(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var a parley.Agent
	if err := decode(w, r, maxBody, &a); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	a.AppID, a.ID, a.Load = app.ID, r.PathValue("agent"), 0
	s.answer(w, &a, s.Consult.PutAgent(r.Context(), &a))
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, app *parley.App) {
	as, err := s.Consult.Agents(r.Context(), app.ID, r.URL.Query().Get("shop"))
	if as == nil {
		as = []parley.Agent{}
	}
	s.answer(w, map[string]any{"agents": as}, err)
}

func (s *Server) agentStatus(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		Status parley.AgentStatus `json:"status"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	a, err := s.Consult.SetStatus(r.Context(), app.ID, r.PathValue("agent"), req.Status)
	s.answer(w, wire.AgentRes{Agent: a}, err)
}

func (s *Server) openConsult(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		User    string          `json:"user"`
		Shop    string          `json:"shop"`
		Queue   string          `json:"queue"`
		Entry   string          `json:"entry"`
		Context json.RawMessage `json:"context"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	c, err := s.Consult.Open(r.Context(), consult.OpenRequest{AppID: app.ID, User: req.User, Shop: req.Shop,
		Queue: req.Queue, Entry: req.Entry, Context: req.Context})
	s.answer(w, wire.ConsultRes{Consult: c}, err)
}

func (s *Server) listConsults(w http.ResponseWriter, r *http.Request, app *parley.App) {
	q := r.URL.Query()
	f := consult.Filter{Shop: q.Get("shop"), User: q.Get("user"), Agent: q.Get("agent")}
	if st := q.Get("state"); st != "" {
		f.States = []parley.ConsultState{parley.ConsultState(st)}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > parley.MaxConsultsListed {
			wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "limit must be 1-%d", parley.MaxConsultsListed))
			return
		}
		f.Limit = n
	}
	cs, err := s.Consult.Consults(r.Context(), app.ID, f)
	if cs == nil {
		cs = []parley.Consultation{}
	}
	s.answer(w, map[string]any{"consults": cs}, err)
}

func (s *Server) getConsult(w http.ResponseWriter, r *http.Request, app *parley.App) {
	res, err := s.Consult.Info(r.Context(), app.ID, parley.SystemUserID, r.PathValue("id"))
	s.answer(w, res, err)
}

func (s *Server) resolveConsult(w http.ResponseWriter, r *http.Request, app *parley.App) {
	c, err := s.Consult.Resolve(r.Context(), app.ID, parley.SystemUserID, r.PathValue("id"))
	s.answer(w, wire.ConsultRes{Consult: c}, err)
}

func (s *Server) transferConsult(w http.ResponseWriter, r *http.Request, app *parley.App) {
	var req struct {
		Agent string `json:"agent"`
		Team  string `json:"team"`
		Note  string `json:"note"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	c, err := s.Consult.Transfer(r.Context(), consult.TransferRequest{AppID: app.ID, By: parley.SystemUserID,
		ID: r.PathValue("id"), Agent: req.Agent, Team: req.Team, Note: req.Note})
	s.answer(w, wire.ConsultRes{Consult: c}, err)
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > max {
		return 0, parley.Errorf(parley.EInvalid, "%s must be an integer 0-%d", name, max)
	}
	return n, nil
}

func (s *Server) watchConsult(w http.ResponseWriter, r *http.Request, app *parley.App) {
	after, err := queryInt(r, "after", 1<<53)
	var limit int64
	if err == nil {
		limit, err = queryInt(r, "limit", wire.MaxLimit)
	}
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	if limit == 0 {
		limit = wire.DefaultLimit
	}
	res, err := s.Consult.Watch(r.Context(), app.ID, parley.SystemUserID, r.PathValue("id"),
		parley.MessageRange{After: uint64(after), Limit: int(limit)})
	s.answer(w, res, err)
}

func (s *Server) consultView(w http.ResponseWriter, r *http.Request, app *parley.App) {
	res, err := s.Consult.View(r.Context(), app.ID, parley.SystemUserID, r.URL.Query().Get("shop"))
	s.answer(w, res, err)
}

func (s *Server) consultMetrics(w http.ResponseWriter, r *http.Request, app *parley.App) {
	q := r.URL.Query()
	from, err := queryInt(r, "from", 1<<53)
	var to int64
	if err == nil {
		to, err = queryInt(r, "to", 1<<53)
	}
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	rep, err := s.Consult.Metrics(r.Context(), app.ID, consult.Query{Shop: q.Get("shop"), Team: q.Get("team"),
		Agent: q.Get("agent"), From: from, To: to})
	s.answer(w, rep, err)
}
