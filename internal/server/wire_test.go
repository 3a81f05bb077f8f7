package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/parley-im/parley/internal/server"
)

// node is a real node on a loopback port with a temp data dir.
type node struct {
	*server.Server
	key  string
	data string
}

func startNode(t testing.TB, transport string, tweak ...func(*server.Config)) *node {
	t.Helper()
	data := t.TempDir()
	cfg := server.Config{
		Addr: "127.0.0.1:0", DataDir: data, Transport: transport, Out: io.Discard,
		Logger:              slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		WebhookAllowPrivate: true, // the tests' webhook receivers listen on loopback
	}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	data = cfg.DataDir // a tweak may share another node's
	key, err := os.ReadFile(filepath.Join(data, server.DemoKeyFile))
	if err != nil {
		t.Fatalf("demo key: %v", err)
	}
	return &node{Server: s, key: strings.TrimSpace(string(key)), data: data}
}

// api calls the server API and decodes the answer into out (if not nil).
// It returns the HTTP status.
func (n *node) api(t testing.TB, method, path string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.URL()+path, r)
	req.Header.Set("Authorization", "Bearer "+n.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

func (n *node) users(t testing.TB, ids ...string) {
	t.Helper()
	var users []map[string]string
	for _, id := range ids {
		users = append(users, map[string]string{"id": id, "name": strings.ToUpper(id)})
	}
	if st := n.api(t, "POST", "/v1/server/users", map[string]any{"users": users}, nil); st != 200 {
		t.Fatalf("upsert users: status %d", st)
	}
}

func (n *node) token(t testing.TB, user string) string {
	t.Helper()
	var out struct{ Token string }
	if st := n.api(t, "POST", "/v1/server/tokens", map[string]any{"user": user}, &out); st != 200 {
		t.Fatalf("token: status %d", st)
	}
	return out.Token
}

// wsClient is a raw WebSocket client that records frames and the close.
type wsClient struct {
	gws.BuiltinEventHandler
	conn   *gws.Conn
	frames chan map[string]any
	closed chan *gws.CloseError
}

func (c *wsClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	var v map[string]any
	if err := json.Unmarshal(m.Bytes(), &v); err != nil {
		v = map[string]any{"raw": m.Data.String()}
	}
	m.Close()
	c.frames <- v
}

func (c *wsClient) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	if !errors.As(err, &ce) {
		ce = &gws.CloseError{Code: 0, Reason: []byte(err.Error())}
	}
	c.closed <- ce
}

func dialWS(t testing.TB, n *node) *wsClient {
	t.Helper()
	c := &wsClient{frames: make(chan map[string]any, 1024), closed: make(chan *gws.CloseError, 1)}
	conn, _, err := gws.NewClient(c, &gws.ClientOption{Addr: "ws://" + n.Addr() + "/v1/ws", ReadMaxPayloadSize: 1 << 20, WriteMaxPayloadSize: 1 << 20})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.conn = conn
	go conn.ReadLoop()
	t.Cleanup(func() { _ = conn.NetConn().Close() })
	return c
}

func (c *wsClient) send(t testing.TB, frame string) {
	t.Helper()
	if err := c.conn.WriteString(frame); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// next returns the next frame, failing after a few seconds.
func (c *wsClient) next(t testing.TB) map[string]any {
	t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame within 5s")
		return nil
	}
}

// until returns the next frame of type typ, skipping others.
func (c *wsClient) until(t *testing.T, typ string) map[string]any {
	t.Helper()
	for {
		if f := c.next(t); f["type"] == typ {
			return f
		}
	}
}

func (c *wsClient) waitClose(t *testing.T) *gws.CloseError {
	t.Helper()
	select {
	case ce := <-c.closed:
		return ce
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed within 5s")
		return nil
	}
}

func (c *wsClient) auth(t *testing.T, token, device string) map[string]any {
	t.Helper()
	c.send(t, `{"type":"auth","id":"a","token":"`+token+`","device":"`+device+`","platform":"web"}`)
	return c.next(t)
}

func errCode(f map[string]any) string {
	if f["type"] != "err" {
		return ""
	}
	s, _ := f["code"].(string)
	return s
}
