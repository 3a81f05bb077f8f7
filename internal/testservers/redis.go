package testservers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisAddr is the shared test Redis unless PARLEY_TEST_REDIS names
// another ("host:port" or a redis:// URL).
const redisAddr = "127.0.0.1:6379"

// Redis returns a client of the shared test Redis, closed when the test
// ends. Tests share its database, so each must keep its keys under a
// prefix of its own: RedisPrefix gives one and removes its keys at the
// end. Stops the test (see Missing) if the server does not answer.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opt := &redis.Options{Addr: redisAddr}
	if s := os.Getenv("PARLEY_TEST_REDIS"); s != "" {
		opt.Addr = s
		if strings.Contains(s, "://") {
			var err error
			if opt, err = redis.ParseURL(s); err != nil {
				t.Fatalf("PARLEY_TEST_REDIS=%q: %v", s, err)
			}
		}
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		Missing(t, "Redis at "+opt.Addr+" (PARLEY_TEST_REDIS)", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// RedisPrefix returns a key prefix unique to this test run
// ("test:<test name>:<random>:") and, when the test ends, deletes every
// key under it from c. Tests and packages running in parallel on one
// Redis stay apart as long as each keeps to its prefix.
func RedisPrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	prefix := "test:" + name + ":" + rand.Text()[:8] + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("listing the keys under %q: %v", prefix, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("deleting the keys under %q: %v", prefix, err)
				return
			}
			keys = keys[n:]
		}
	})
	return prefix
}

// RedisServer starts a private redis-server, without persistence, on a
// free port of 127.0.0.1 in a temp dir, for tests that stop or restart
// it; it is killed when the test ends. restart kills it (SIGKILL, so like
// a crash it loses every key) and starts it again on the same port,
// returning once it answers. Stops the test (see Missing) if the
// redis-server binary is missing.
func RedisServer(t testing.TB) (addr string, restart func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(t, "redis-server (apt-get install -y redis-server)", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dir := t.TempDir()
	var cmd *exec.Cmd
	stop := func() {
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cmd = nil
		}
	}
	start := func() {
		t.Helper()
		cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--logfile", filepath.Join(dir, "redis.log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", bin, err)
		}
		if err := awaitRedis(addr, 10*time.Second); err != nil {
			stop()
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server on %s did not answer: %v\n%s", addr, err, log)
		}
	}
	start()
	t.Cleanup(stop)
	return addr, func() {
		t.Helper()
		stop()
		start()
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// awaitRedis waits until the server at addr answers PING.
func awaitRedis(addr string, within time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("no answer within %v", within), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
