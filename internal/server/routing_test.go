package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/redisreg"
	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/internal/testservers"
)

// TestTwoNodesOverRedisAndNATS: two nodes on one database, their
// connection table in real Redis and their deliveries over NATS (served
// by node a, reached by node b over TCP). alice on a and bob on b chat
// both ways; the table holds each connection on its node; once a node
// closes, its rows are gone for everyone.
func TestTwoNodesOverRedisAndNATS(t *testing.T) {
	rdb := testservers.Redis(t)
	prefix := testservers.RedisPrefix(t, rdb)
	redisURL := "redis://" + rdb.Options().Addr
	nats := testservers.StartNATS(t)
	a := startNode(t, "gws", func(c *server.Config) {
		c.Node, c.Redis, c.RedisPrefix, c.NATS = "a", redisURL, prefix, nats.URL()
	})
	b := startNode(t, "gws", func(c *server.Config) {
		c.Node, c.Redis, c.RedisPrefix, c.NATS, c.DataDir = "b", redisURL, prefix, nats.URL(), a.data
	})
	a.users(t, "alice", "bob")
	alice, bob := dialWS(t, a), dialWS(t, b)
	alice.auth(t, a.token(t, "alice"), "phone")
	bob.auth(t, a.token(t, "bob"), "laptop")

	reg := redisreg.New(rdb, redisreg.Options{Prefix: prefix})
	conns, err := reg.Locate(context.Background(), "demo", []string{"alice", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	var where []string
	for _, c := range conns {
		where = append(where, c.UserID+"@"+c.Node+"/"+c.Device)
	}
	slices.Sort(where)
	if want := []string{"alice@a/phone", "bob@b/laptop"}; !slices.Equal(where, want) {
		t.Fatalf("connection table in Redis: got %v, want %v", where, want)
	}

	alice.request(t, `{"type":"send","id":"1","to":"bob","cmid":"x1","body":{"text":"from a"}}`)
	if f := bob.until(t, "msg"); f["msg"].(map[string]any)["body"].(map[string]any)["text"] != "from a" {
		t.Fatalf("bob on node b: got %v", f)
	}
	bob.request(t, `{"type":"send","id":"2","to":"alice","cmid":"y1","body":{"text":"from b"}}`)
	if f := alice.until(t, "msg"); f["msg"].(map[string]any)["body"].(map[string]any)["text"] != "from b" {
		t.Fatalf("alice on node a: got %v", f)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	conns, err = reg.Locate(ctx, "demo", []string{"alice", "bob"})
	if err != nil || len(conns) != 1 || conns[0].UserID != "alice" {
		t.Fatalf("after node b closed: got %+v, %v; want alice's connection only", conns, err)
	}
}
