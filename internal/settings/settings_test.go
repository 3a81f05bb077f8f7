package settings_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/settings"
	"github.com/parley-im/parley/internal/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable clock shared by the nodes of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var defaults = parley.Settings{Receipts: true, RecallSeconds: 120, Edit: true, EditSeconds: 86400, Typing: true,
	GroupMaxMembers: 10_000, FileMaxBytes: 1 << 20}

// openStore opens a SQLite store with one app, "shop".
func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.CreateApp(context.Background(), &parley.App{ID: "shop", Name: "Shop"}); err != nil {
		t.Fatal(err)
	}
	return db
}

func off() *bool { f := false; return &f }

// TestOtherNodesSeeAChangeWithinTheTTL: two nodes share a store. The
// node that makes a change applies it at once; the other keeps its
// cached settings until they are TTL old, then reads the change.
func TestOtherNodesSeeAChangeWithinTheTTL(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	cfg := settings.Config{Defaults: defaults, TTL: 5 * time.Second, Now: clk.now}
	a, b := settings.New(db, cfg), settings.New(db, cfg)
	for name, n := range map[string]*settings.Service{"a": a, "b": b} {
		if s, err := n.Settings(ctx, "shop"); err != nil || !s.Typing {
			t.Fatalf("node %s before the change: got %+v, %v; want the defaults", name, s, err)
		}
	}
	if _, s, err := a.Update(ctx, "shop", parley.AppSettingsPatch{Set: parley.AppSettings{Typing: off()}}); err != nil || s.Typing {
		t.Fatalf("Update: got %+v, %v; want typing off", s, err)
	}
	if s, _ := a.Settings(ctx, "shop"); s.Typing {
		t.Error("the node that made the change: typing still on")
	}
	clk.add(4 * time.Second)
	if s, _ := b.Settings(ctx, "shop"); !s.Typing {
		t.Error("another node within the TTL: got the change already, want its cached settings (the test would not show the bound)")
	}
	clk.add(time.Second)
	if s, _ := b.Settings(ctx, "shop"); s.Typing {
		t.Error("another node after the TTL: typing still on, want the change")
	}
}

// TestCachedSettingsOutliveAStoreFailure: once read, an app's settings
// are used past their TTL when the store cannot be read; an app never
// read gets the error.
func TestCachedSettingsOutliveAStoreFailure(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	n := settings.New(db, settings.Config{Defaults: defaults, Now: clk.now})
	if _, _, err := n.Update(ctx, "shop", parley.AppSettingsPatch{Set: parley.AppSettings{Receipts: off()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Settings(ctx, "ghost"); parley.ErrorCode(err) != parley.ENotFound {
		t.Fatalf("unknown app: got %v, want not_found", err)
	}
	_ = db.Close()
	clk.add(time.Minute)
	if s, err := n.Settings(ctx, "shop"); err != nil || s.Receipts {
		t.Errorf("after a store failure: got %+v, %v; want the cached settings (receipts off)", s, err)
	}
	if _, err := n.Settings(ctx, "other"); err == nil {
		t.Error("an app never read, store failing: got no error")
	}
}

// TestUpdateChecksTheNodesBounds: an app may narrow the node's file
// limits, never widen them; invalid patches change nothing.
func TestUpdateChecksTheNodesBounds(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	n := settings.New(db, settings.Config{Defaults: defaults, NodeFileTypes: []string{"image/png", "application/pdf"}})
	big, small := int64(2<<20), int64(1000)
	cases := map[string]struct {
		set  parley.AppSettings
		code string
	}{
		"over the node's size":  {parley.AppSettings{FileMaxBytes: &big}, parley.EInvalid},
		"type the node refuses": {parley.AppSettings{FileTypes: &[]string{"text/html"}}, parley.EInvalid},
		"invalid patch":         {parley.AppSettings{FileMaxBytes: new(int64)}, parley.EInvalid},
		"narrower":              {parley.AppSettings{FileMaxBytes: &small, FileTypes: &[]string{"image/*", "application/pdf"}}, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			own, _, err := n.Update(ctx, "shop", parley.AppSettingsPatch{Set: c.set})
			if parley.ErrorCode(err) != c.code {
				t.Fatalf("got %v, want code %q", err, c.code)
			}
			if c.code != "" {
				if stored, _, _ := n.Get(ctx, "shop"); stored.FileMaxBytes != nil && *stored.FileMaxBytes != small {
					t.Errorf("a refused update was stored: %+v", stored)
				}
				return
			}
			if *own.FileMaxBytes != small {
				t.Errorf("got %+v", own)
			}
		})
	}
	own, eff, err := n.Get(ctx, "shop")
	if err != nil || *own.FileMaxBytes != small || eff.FileMaxBytes != small || !eff.AllowsFileType("image/png") || eff.AllowsFileType("text/plain") || eff.EditSeconds != defaults.EditSeconds {
		t.Errorf("Get: got %+v %+v %v", own, eff, err)
	}
}
