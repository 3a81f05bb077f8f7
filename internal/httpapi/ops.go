package httpapi

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Parley</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>Parley is running</h1>
<p>Node <b>{{.Node}}</b>, version {{.Version}}, {{.Sessions}} client session(s) online.</p>
<ul>
<li>WebSocket: <code>GET /v1/ws</code> (first frame: <code>{"type":"auth",...}</code>)</li>
<li>Long-poll: <code>POST /v1/lp/connect</code>, <code>GET /v1/lp/poll</code>, <code>POST /v1/lp/send</code></li>
<li>Server API: <code>/v1/server/...</code> with <code>Authorization: Bearer &lt;API key&gt;</code></li>
<li>Health: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></li>
</ul>
<p>See docs/protocol.md in the source tree for every frame and error code.</p>
</body></html>
`))

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = indexPage.Execute(w, struct {
		Node, Version string
		Sessions      int
	}{s.Node, s.Version, s.Client.Count()})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintln(w, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain")
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
	}
	fmt.Fprintln(w, "ready")
}
