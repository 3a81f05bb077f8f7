// Package httpapi is Parley's HTTP surface: the server-to-server REST API
// that business backends call with their app's API key, the client
// endpoints (WebSocket upgrade and long-poll, served by the gateway), and
// the operational endpoints (/, /healthz, /readyz). Every error is
// answered through one table (wire.HTTPStatus) with a JSON body
// {"error":{"code","message"}}.
//
// A Server is safe for concurrent use and starts no goroutines.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/wire"
)

// Store is the storage the API needs; parley.Store satisfies it.
type Store interface {
	App(ctx context.Context, id string) (*parley.App, error)
	UpsertUsers(ctx context.Context, appID string, users []parley.User) error
	User(ctx context.Context, appID, userID string) (*parley.User, error)
	RevokeSessions(ctx context.Context, appID, userID, device string, t time.Time) error
	RevokedBefore(ctx context.Context, appID, userID, device string) (time.Time, error)
}

// Chat is the messaging logic the API needs; *chat.Service implements it.
type Chat interface {
	Send(ctx context.Context, req chat.SendRequest) chat.SendResult
	Broadcast(ctx context.Context, req chat.BroadcastRequest) (int, error)
	History(ctx context.Context, appID, convID string, r parley.MessageRange) (wire.PullRes, error)
	Search(ctx context.Context, appID, userID string, q parley.SearchQuery) (wire.SearchRes, error)
	SetConvSettings(ctx context.Context, appID, userID, convID string, c parley.ConvSettings, skipConn string) (parley.ConvState, error)
}

// Pusher delivers to connected devices (used to kick revoked sessions).
type Pusher interface {
	Push(ctx context.Context, ds []parley.Delivery) error
}

// Client is the client-facing transport: WebSocket and long-poll.
type Client interface {
	ServeWS(w http.ResponseWriter, r *http.Request)
	ServeLPConnect(w http.ResponseWriter, r *http.Request)
	ServeLPPoll(w http.ResponseWriter, r *http.Request)
	ServeLPSend(w http.ResponseWriter, r *http.Request)
	Count() int
}

// Server serves every HTTP route of a node.
type Server struct {
	Store  Store
	Chat   Chat
	Push   Pusher
	Client Client
	// Files serves the files endpoints; nil leaves them out.
	Files Files
	// Groups serves the group endpoints (groups.go); nil leaves them out.
	Groups Groups
	// Settings serves the app's feature switches (appsettings.go); nil
	// leaves the settings endpoints out.
	Settings Settings
	// Events serves the event stream and webhook endpoints (events.go);
	// nil leaves them out.
	Events Events
	// Consult serves the customer-service endpoints (consult.go); nil
	// leaves them out.
	Consult Consult
	// Social serves contacts and presence and pushes profile changes
	// (social.go); nil leaves the contacts and presence endpoints out and
	// upserts users without pushes.
	Social Social
	// ClientAuth checks the client tokens of the files endpoints.
	ClientAuth gateway.Authenticator
	// NoClients leaves out the routes of client devices (a node without
	// the gateway role); NoServerAPI those of business backends (a node
	// without the logic role).
	NoClients, NoServerAPI bool
	// Balancer answers GET /v1/gateway (gateway.go); nil leaves it out.
	Balancer Balancer
	// Ready reports whether the node can serve (storage reachable...).
	Ready func(ctx context.Context) error
	// Node is this node's id, shown on the index page.
	Node string
	// Version is the build's version, shown on the index page.
	Version string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Handler returns the node's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return mux
}
