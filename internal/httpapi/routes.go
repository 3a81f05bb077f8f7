package httpapi

import "net/http"

// routes is the one list of every HTTP route a node serves.
func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Balancer != nil {
		mux.HandleFunc("GET /v1/gateway", s.gateway)
	}

	if !s.NoClients {
		s.clientRoutes(mux)
	}
	if !s.NoServerAPI {
		s.apiRoutes(mux)
	}
}

// clientRoutes are the routes of client devices (the gateway role).
func (s *Server) clientRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/ws", s.Client.ServeWS)
	mux.HandleFunc("POST /v1/lp/connect", s.Client.ServeLPConnect)
	mux.HandleFunc("GET /v1/lp/poll", s.Client.ServeLPPoll)
	mux.HandleFunc("POST /v1/lp/send", s.Client.ServeLPSend)
	if s.Files != nil {
		// Files, authenticated by the client token.
		mux.Handle("POST /v1/files", s.user(s.uploadFile))
		mux.Handle("GET /v1/files/{id}", s.user(s.downloadFile))
	}

}

// apiRoutes are the routes of business backends, authenticated by the
// app's API key (the logic role).
func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.Handle("POST /v1/server/users", s.app(s.upsertUsers))
	mux.Handle("GET /v1/server/users/{user}", s.app(s.getUser))
	mux.Handle("POST /v1/server/users/{user}/revoke", s.app(s.revoke))
	mux.Handle("POST /v1/server/tokens", s.app(s.issueToken))
	mux.Handle("POST /v1/server/messages", s.app(s.sendMessage))
	mux.Handle("POST /v1/server/broadcast", s.app(s.broadcast))
	mux.Handle("GET /v1/server/conversations/{conv}/messages", s.app(s.history))
	mux.Handle("GET /v1/server/users/{user}/search", s.app(s.search))
	mux.Handle("POST /v1/server/users/{user}/conversations/{conv}/settings", s.app(s.setConvSettings))
	s.groupRoutes(mux)    // groups.go
	s.consultRoutes(mux)  // consult.go
	s.settingsRoutes(mux) // appsettings.go
	s.eventRoutes(mux)    // events.go
	if s.Social != nil {
		mux.Handle("GET /v1/server/users/{user}/contacts", s.app(s.contacts))
		mux.Handle("POST /v1/server/users/{user}/contacts", s.app(s.addContacts))
		mux.Handle("POST /v1/server/users/{user}/contacts/remove", s.app(s.removeContacts))
		mux.Handle("POST /v1/server/presence", s.app(s.presence))
	}
	if s.Files != nil {
		mux.Handle("GET /v1/server/files/{id}", s.app(s.downloadFileAsApp))
	}
}
