package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lesismal/nbio/logging"
	"go.uber.org/goleak"

	"github.com/parley-im/parley/wire"
)

func TestMain(m *testing.M) {
	logging.SetLevel(logging.LevelWarn) // nbio's engine start/stop lines
	// nbio starts a task pool at package init that lives for the process.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// transports runs f on each WebSocket transport: gws (visible to the race
// detector) and nbio (the default).
func transports(t *testing.T, f func(t *testing.T, transport string)) {
	for _, tr := range []string{"gws", "nbio"} {
		t.Run(tr, func(t *testing.T) { f(t, tr) })
	}
}

func TestOpsEndpoints(t *testing.T) {
	n := startNode(t, "gws")
	for path, want := range map[string]string{"/": "Parley is running", "/healthz": "ok", "/readyz": "ready"} {
		res, err := http.Get(n.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: got %d %q, want 200 containing %q", path, res.StatusCode, b, want)
		}
	}
}

func TestServerAPIRefusesBadKeys(t *testing.T) {
	n := startNode(t, "gws")
	for _, key := range []string{"", "garbage", "pk_demo_AAAA", "pk_nosuchapp_" + strings.Repeat("A", 43), n.key + "x"} {
		req, _ := http.NewRequest("POST", n.URL()+"/v1/server/users", strings.NewReader(`{"users":[{"id":"a"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("key %q: got status %d, want 401", key, res.StatusCode)
		}
	}
}

func TestServerAPIValidates(t *testing.T) {
	n := startNode(t, "gws")
	cases := []struct {
		name, path string
		body       any
		want       int
	}{
		{"bad user id", "/v1/server/users", map[string]any{"users": []map[string]string{{"id": "a b"}}}, 400},
		{"reserved user id", "/v1/server/users", map[string]any{"users": []map[string]string{{"id": "_system"}}}, 400},
		{"no users", "/v1/server/users", map[string]any{"users": []any{}}, 400},
		{"unknown field", "/v1/server/users", map[string]any{"users": []map[string]string{{"id": "a"}}, "x": 1}, 400},
		{"metadata not object", "/v1/server/users", map[string]any{"users": []map[string]any{{"id": "a", "metadata": []int{1}}}}, 400},
		{"token for unknown user", "/v1/server/tokens", map[string]any{"user": "ghost"}, 404},
		{"token ttl too short", "/v1/server/tokens", map[string]any{"user": "ghost", "ttl_seconds": 1}, 400},
		{"token bad user id", "/v1/server/tokens", map[string]any{"user": "a b"}, 400},
		{"message to unknown user", "/v1/server/messages", map[string]any{"to": "ghost", "body": map[string]string{"text": "x"}}, 404},
		{"message without body", "/v1/server/messages", map[string]any{"to": "ghost"}, 400},
		{"broadcast without target", "/v1/server/broadcast", map[string]any{"body": map[string]string{"text": "x"}}, 400},
		{"token ttl overflow", "/v1/server/tokens", map[string]any{"user": "ghost", "ttl_seconds": int64(18446744174)}, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e wire.ErrorBody
			if got := n.api(t, "POST", c.path, c.body, &e); got != c.want || e.Error.Code == "" {
				t.Errorf("got %d %+v, want %d with an error code", got, e, c.want)
			}
		})
	}
	for _, body := range []string{`{"users":[{"id":"a"}]}}`, `{"users":[{"id":"a"}]} {}`, `{"users":[{"id":"a"}]}]`, "{\"users\":[{\"id\":\"a\",\"name\":\"Z\xffd\"}]}"} {
		req, _ := http.NewRequest("POST", n.URL()+"/v1/server/users", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+n.key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("body %q: got %d, want 400", body, res.StatusCode)
		}
	}
	big := map[string]any{"users": []map[string]string{{"id": "a", "name": strings.Repeat("n", 2<<20)}}}
	if got := n.api(t, "POST", "/v1/server/users", big, nil); got != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize body: got %d, want 413", got)
	}
}

func TestWebSocketTrustBoundaries(t *testing.T) {
	transports(t, func(t *testing.T, tr string) {
		n := startNode(t, tr)
		n.users(t, "alice", "bob", "carol")
		alice := n.token(t, "alice")

		t.Run("bad token", func(t *testing.T) {
			c := dialWS(t, n)
			f := c.auth(t, "not-a-token", "d1")
			if errCode(f) != "unauthorized" {
				t.Fatalf("got %v, want an unauthorized err frame", f)
			}
			if ce := c.waitClose(t); ce.Code != wire.CloseUnauthorized {
				t.Fatalf("got close %d, want %d", ce.Code, wire.CloseUnauthorized)
			}
		})
		t.Run("first frame not auth", func(t *testing.T) {
			c := dialWS(t, n)
			c.send(t, `{"type":"ping"}`)
			if f := c.next(t); errCode(f) != "unauthorized" {
				t.Fatalf("got %v, want an unauthorized err frame", f)
			}
			if ce := c.waitClose(t); ce.Code != wire.CloseProtocol {
				t.Fatalf("got close %d, want %d", ce.Code, wire.CloseProtocol)
			}
		})
		t.Run("malformed frames keep the session", func(t *testing.T) {
			c := dialWS(t, n)
			if f := c.auth(t, alice, "d1"); f["type"] != "res" {
				t.Fatalf("auth: got %v", f)
			}
			for _, bad := range []string{`{{{`, `[]`, `{"type":"dance","id":"x"}`, `{"type":"send","id":"s","to":"bob","body":{"text":""}}`} {
				c.send(t, bad)
				f := c.until(t, "err")
				if code := errCode(f); code != "bad_frame" && code != "invalid" {
					t.Fatalf("frame %q: got %v, want bad_frame or invalid", bad, f)
				}
			}
			c.send(t, `{"type":"ping"}`)
			if f := c.until(t, "pong"); f == nil {
				t.Fatal("no pong after malformed frames")
			}
			// A text message that is not UTF-8 breaks RFC 6455: close 1007
			// (nbio's own parser answers 1002, protocol error).
			c.send(t, "\xff\xfe")
			if ce := c.waitClose(t); ce.Code != wire.CloseInvalidData && ce.Code != 1002 {
				t.Fatalf("invalid UTF-8: got close %d, want %d or 1002", ce.Code, wire.CloseInvalidData)
			}
		})
		t.Run("oversize frame closes", func(t *testing.T) {
			c := dialWS(t, n)
			c.auth(t, alice, "d2")
			c.send(t, `{"type":"ping","pad":"`+strings.Repeat("x", wire.MaxFrameSize)+`"}`)
			if ce := c.waitClose(t); ce.Code != wire.CloseTooLarge {
				t.Fatalf("got close %d %q, want %d", ce.Code, ce.Reason, wire.CloseTooLarge)
			}
		})
		t.Run("non-member refused", func(t *testing.T) {
			bob := dialWS(t, n)
			bob.auth(t, n.token(t, "bob"), "b1")
			bob.send(t, `{"type":"send","id":"1","to":"carol","body":{"text":"private"}}`)
			if f := bob.until(t, "res"); f["id"] != "1" {
				t.Fatalf("send: got %v", f)
			}
			c := dialWS(t, n)
			c.auth(t, alice, "d3")
			for _, fr := range []string{
				`{"type":"pull","id":"p","conv":"d:bob:carol"}`,
				`{"type":"send","id":"s","conv":"d:bob:carol","body":{"text":"hi"}}`,
				`{"type":"read","id":"r","conv":"d:bob:carol","seq":1}`,
			} {
				c.send(t, fr)
				if f := c.until(t, "err"); errCode(f) != "forbidden" {
					t.Fatalf("%s: got %v, want forbidden", fr, f)
				}
			}
		})
		t.Run("kick", func(t *testing.T) {
			c := dialWS(t, n)
			old := n.token(t, "carol")
			c.auth(t, old, "phone")
			if st := n.api(t, "POST", "/v1/server/users/carol/revoke", map[string]string{"device": "phone"}, nil); st != 204 {
				t.Fatalf("revoke: status %d", st)
			}
			if ce := c.waitClose(t); ce.Code != wire.CloseKicked {
				t.Fatalf("got close %d, want %d", ce.Code, wire.CloseKicked)
			}
			// The old token no longer opens a session on that device; a new one does.
			c2 := dialWS(t, n)
			if f := c2.auth(t, old, "phone"); errCode(f) != "unauthorized" {
				t.Fatalf("revoked token: got %v, want unauthorized", f)
			}
			c3 := dialWS(t, n)
			if f := c3.auth(t, n.token(t, "carol"), "phone"); f["type"] != "res" {
				t.Fatalf("new token after revoke: got %v, want res", f)
			}
		})
	})
}

func TestSlowConsumerIsClosed(t *testing.T) {
	n := startNode(t, "gws")
	n.users(t, "alice", "bob", "carol")
	bob := dialWS(t, n)
	bob.auth(t, n.token(t, "bob"), "b1")
	carol := dialWS(t, n)
	carol.auth(t, n.token(t, "carol"), "c1")
	// bob never acks: past the unacked bound the session is closed. carol,
	// who acks, gets every message meanwhile: bob stalls nobody.
	for i := 0; i < 1100; i++ {
		n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "alice", "to": "bob", "body": map[string]string{"text": fmt.Sprint(i)}}, nil)
		if i%100 == 0 {
			n.api(t, "POST", "/v1/server/messages", map[string]any{"from": "alice", "to": "carol", "body": map[string]string{"text": fmt.Sprint(i)}}, nil)
			f := carol.until(t, "msg")
			carol.send(t, fmt.Sprintf(`{"type":"ack","n":[%v]}`, f["n"]))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		select {
		case ce := <-bob.closed:
			if ce.Code != wire.CloseSlowConsumer {
				t.Fatalf("got close %d, want %d", ce.Code, wire.CloseSlowConsumer)
			}
			n.waitMetrics(t, nil, map[string]float64{`parley_closes_total{code="4102"}`: 1})
			return
		case <-bob.frames:
		case <-ctx.Done():
			t.Fatal("slow consumer not closed")
		}
	}
}
