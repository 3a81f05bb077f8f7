package gateway

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// ServeWS upgrades a request to a WebSocket session.
func (g *Gateway) ServeWS(w http.ResponseWriter, r *http.Request) {
	if g.ws == nil {
		wire.WriteHTTPError(w, parley.Errorf(parley.ENotFound, "WebSocket is not served here"))
		return
	}
	if g.stopping() {
		wire.WriteHTTPError(w, parley.Errorf(parley.EUnavailable, "server is shutting down"))
		return
	}
	_ = g.ws.Upgrade(w, r, func(c Conn) Handler { return g.newSession(c, c.RemoteIP(), transportWS) })
}

// LPConnectRes answers a long-poll connect: the session id to poll and
// send with, and the same data as a WebSocket auth answer.
type LPConnectRes struct {
	SID string `json:"sid"`
	wire.AuthRes
}

// LPPollRes answers a poll: server frames, exactly as a WebSocket would
// carry them, and the index of the last one, to pass as after next time.
type LPPollRes struct {
	Frames []json.RawMessage `json:"frames"`
	Next   uint64            `json:"next"`
}

// ServeLPConnect opens a long-poll session: POST /v1/lp/connect with the
// body of an auth frame ({"token", "device", "platform"}).
func (g *Gateway) ServeLPConnect(w http.ResponseWriter, r *http.Request) {
	if g.stopping() {
		wire.WriteHTTPError(w, parley.Errorf(parley.EUnavailable, "server is shutting down"))
		return
	}
	body, err := wire.ReadBody(w, r, 8*1024)
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	var in wire.In
	if !utf8.Valid(body) || json.Unmarshal(body, &in) != nil {
		wire.WriteHTTPError(w, parley.Errorf(parley.EBadFrame, "body must be a JSON object in UTF-8"))
		return
	}
	in.Type = wire.TAuth
	if err := in.Validate(); err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	ip := clientIP(r)
	c := &lpConn{sid: newID(16), max: g.cfg.LongPollMaxFrames, wake: make(chan struct{}), first: 1}
	s := g.newSession(c, ip, transportLongPoll)
	c.sess = s
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	id, err := g.auth.Authenticate(ctx, in.Token, in.Device)
	if err == nil {
		err = g.attach(ctx, s, id, in.Device, parley.Platform(in.Platform))
	}
	if err != nil {
		s.Closed(err)
		wire.WriteHTTPError(w, err)
		return
	}
	g.lp.put(c)
	wire.WriteJSON(w, http.StatusOK, LPConnectRes{SID: c.sid, AuthRes: s.authRes()})
}

// ServeLPPoll answers GET /v1/lp/poll?sid=S&after=N[&wait=SECONDS] with the
// frames after N, holding the request up to the wait (at most the
// configured long-poll wait) when there are none.
func (g *Gateway) ServeLPPoll(w http.ResponseWriter, r *http.Request) {
	c, err := g.lpSession(r)
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	q := r.URL.Query()
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if err != nil && q.Get("after") != "" {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "after must be a non-negative integer"))
		return
	}
	wait := g.cfg.LongPollWait
	if ws := q.Get("wait"); ws != "" {
		sec, err := strconv.Atoi(ws)
		if err != nil || sec < 0 {
			wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "wait must be a number of seconds"))
			return
		}
		wait = min(wait, time.Duration(sec)*time.Second)
	}
	c.sess.lastSeen.Store(g.cfg.Now().UnixNano())
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	frames, next, ended, err := c.poll(ctx, after)
	c.sess.lastSeen.Store(g.cfg.Now().UnixNano())
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	if ended {
		wire.WriteHTTPError(w, parley.Errorf(parley.ENotFound, "long-poll session ended"))
		return
	}
	res := LPPollRes{Frames: make([]json.RawMessage, len(frames)), Next: next}
	for i, f := range frames {
		res.Frames[i] = f
	}
	wire.WriteJSON(w, http.StatusOK, res)
}

// ServeLPSend handles POST /v1/lp/send?sid=S whose body is one client
// frame. The answer is the server frame that answers it (res, err or
// pong), or 204 for an ack.
func (g *Gateway) ServeLPSend(w http.ResponseWriter, r *http.Request) {
	c, err := g.lpOpen(r)
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	body, err := wire.ReadBody(w, r, wire.MaxFrameSize)
	if err != nil {
		wire.WriteHTTPError(w, err)
		return
	}
	c.sess.lastSeen.Store(g.cfg.Now().UnixNano())
	replies := make(chan []byte, 1)
	answers, ok := c.sess.handleSafely(body, func(f []byte) { replies <- f })
	if !ok {
		wire.WriteHTTPError(w, parley.Errorf(parley.EInternal, "internal error"))
		return
	}
	if !answers {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	select {
	case f := <-replies:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f)
	case <-r.Context().Done():
	}
}

func (g *Gateway) lpSession(r *http.Request) (*lpConn, error) {
	sid := r.URL.Query().Get("sid")
	if sid == "" || len(sid) > 64 {
		return nil, parley.Errorf(parley.EInvalid, "sid is required")
	}
	c := g.lp.get(sid)
	if c == nil {
		return nil, parley.Errorf(parley.ENotFound, "no such long-poll session")
	}
	return c, nil
}

// lpOpen is lpSession for requests that need a live session.
func (g *Gateway) lpOpen(r *http.Request) (*lpConn, error) {
	c, err := g.lpSession(r)
	if err == nil && c.ended() {
		err = parley.Errorf(parley.ENotFound, "long-poll session ended")
	}
	return c, err
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
