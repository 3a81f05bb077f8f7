package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/internal/sqlite"
)

func runCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return out.String() + errb.String(), code
}

func TestAdminCommands(t *testing.T) {
	data := t.TempDir()
	if out, code := runCmd(t, "migrate", "--data", data); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %d %s", code, out)
	}
	out, code := runCmd(t, "app", "create", "shop", "--name", "The Shop", "--data", data)
	key := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(key, "pk_shop_") {
		t.Fatalf("app create: %d %q", code, out)
	}
	if out, code := runCmd(t, "app", "create", "shop", "--data", data); code == 0 || !strings.Contains(out, "conflict") {
		t.Fatalf("app create twice: %d %q, want a conflict", code, out)
	}
	if out, code := runCmd(t, "app", "create", "bad id", "--data", data); code == 0 {
		t.Fatalf("app create with a bad id: %d %q", code, out)
	}

	// The key authenticates: the stored hash matches its secret.
	ctx := context.Background()
	st, err := sqlite.Open(ctx, server.DBPath(data))
	if err != nil {
		t.Fatal(err)
	}
	app, err := st.App(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := auth.ParseAPIKey(key)
	if err != nil || !auth.CheckAPIKey(secret, app.KeyHash) || app.Name != "The Shop" {
		t.Fatalf("stored app does not match the printed key: %v", err)
	}
	if err := st.UpsertUsers(ctx, "shop", nil); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()

	if out, code := runCmd(t, "token", "--app", "shop", "--user", "nobody", "--data", data); code == 0 {
		t.Fatalf("token for an unknown user: %d %q", code, out)
	}
	st, _ = sqlite.Open(ctx, server.DBPath(data))
	_ = st.UpsertUsers(ctx, "shop", []parley.User{{ID: "ann", Role: parley.RoleUser}})
	_ = st.Close()
	out, code = runCmd(t, "token", "--app", "shop", "--user", "ann", "--device", "d1", "--data", data)
	if code != 0 {
		t.Fatalf("token: %d %q", code, out)
	}
	c, err := auth.VerifyToken(strings.TrimSpace(out), func(string) (*parley.App, error) { return app, nil }, time.Now())
	if err != nil || c.UserID != "ann" || c.Device != "d1" {
		t.Fatalf("token does not verify: %v %+v", err, c)
	}
	if out, code := runCmd(t, "version"); code != 0 || !strings.Contains(out, server.Version) {
		t.Fatalf("version: %d %q", code, out)
	}
	if _, code := runCmd(t, "no-such-command"); code == 0 {
		t.Fatal("an unknown command must fail")
	}
}

func TestDebugServerServesProfilesAndMetrics(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics here") })
	stop, addr, err := serveDebug("127.0.0.1:0", metrics, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, c := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/debug/pprof/heap?debug=1", 200, "heap profile"},
		{"GET", "/metrics", 200, "metrics here"},
		{"POST", "/metrics", http.StatusMethodNotAllowed, ""},
	} {
		req, _ := http.NewRequest(c.method, "http://"+addr+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status || !strings.Contains(string(b), c.want) {
			t.Errorf("%s %s: got %d %.80q, want %d containing %q", c.method, c.path, res.StatusCode, b, c.status, c.want)
		}
	}
}
