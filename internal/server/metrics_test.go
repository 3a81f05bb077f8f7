package server_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/server"
)

// samples scrapes the node's metrics handler and returns every sample by
// its name and labels as exposed, e.g. `parley_sessions{transport="ws"}`.
func (n *node) samples(t *testing.T) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	n.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: got status %d, want 200: %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("scrape: bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// waitMetrics waits until every sample in want has moved by exactly its
// value since before (nil: since the node started; a sample missing from
// a scrape counts as 0), and fails with the differences if that does not
// happen within 5s. Waiting covers the counts made just after a client
// could see their effect.
func (n *node) waitMetrics(t *testing.T, before, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		now := n.samples(t)
		var diffs []string
		for name, w := range want {
			if got := now[name] - before[name]; got != w {
				diffs = append(diffs, fmt.Sprintf("%s moved by %v, want %v", name, got, w))
			}
		}
		if len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(diffs)
			t.Fatalf("metrics:\n%s", strings.Join(diffs, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsCountAChat chats over a WebSocket and a long-poll session
// and checks that the node's metrics moved by exactly what happened.
func TestMetricsCountAChat(t *testing.T) {
	transports(t, func(t *testing.T, tr string) {
		// Contacts only: with direct-conversation peers counting too, the
		// first message would make alice and bob care about each other's
		// presence, and a presence push could land anywhere among the
		// frames and counts below (whether it does depends on when the
		// presence tracker's tick comes).
		n := startNode(t, tr, func(c *server.Config) { c.Interest = parley.InterestContacts })
		n.users(t, "alice", "bob")
		aliceTok, bobTok := n.token(t, "alice"), n.token(t, "bob")
		before := n.samples(t)
		for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", `parley_closes_total{code="4102"}`, `parley_send_errors_total{code="internal"}`} {
			if _, ok := before[name]; !ok {
				t.Errorf("no sample %s before any traffic", name)
			}
		}

		alice := dialWS(t, n)
		if f := alice.auth(t, aliceTok, "a1"); f["type"] != "res" {
			t.Fatalf("auth: got %v", f)
		}
		bob := lpConnect(t, n, bobTok, "b1")
		// Three new messages, a retry of the first, one to nobody.
		for i, frame := range []string{
			`{"type":"send","id":"1","to":"bob","cmid":"c1","body":{"text":"1"}}`,
			`{"type":"send","id":"2","to":"bob","cmid":"c2","body":{"text":"2"}}`,
			`{"type":"send","id":"3","to":"bob","cmid":"c3","body":{"text":"3"}}`,
			`{"type":"send","id":"4","to":"bob","cmid":"c1","body":{"text":"1"}}`,
			`{"type":"send","id":"5","to":"ghost","body":{"text":"?"}}`,
		} {
			alice.send(t, frame)
			f := alice.next(t)
			if want := i < 4; (f["type"] == "res") != want {
				t.Fatalf("send %d: got %v", i+1, f)
			}
		}
		alice.send(t, `{{{`)
		if f := alice.next(t); errCode(f) != "bad_frame" {
			t.Fatalf("undecodable frame: got %v, want a bad_frame err", f)
		}
		for i := range 2 {
			if st, f := bob.send(t, fmt.Sprintf(`{"type":"send","id":"%d","to":"alice","body":{"text":"back"}}`, i)); st != 200 || f["type"] != "res" {
				t.Fatalf("long-poll send: %d %v", st, f)
			}
		}
		for got, tries := 0, 0; got < 3; tries++ {
			if tries == 5 {
				t.Fatalf("long-poll: got %d pushes, want 3", got)
			}
			_, frames := bob.poll(t, 2)
			got += len(frames)
		}
		a, b := alice.until(t, "msg"), alice.until(t, "msg")
		alice.send(t, fmt.Sprintf(`{"type":"ack","n":[%v,%v]}`, a["n"], b["n"]))
		alice.send(t, `{"type":"ping"}`)
		alice.until(t, "pong") // the ack, before it, was handled too

		// A connection whose first frame is not auth is closed with 4000.
		rude := dialWS(t, n)
		rude.send(t, `{"type":"ping"}`)
		if ce := rude.waitClose(t); ce.Code != 4000 {
			t.Fatalf("got close %d, want 4000", ce.Code)
		}

		n.waitMetrics(t, before, map[string]float64{
			"parley_messages_stored_total":                   5,
			"parley_message_duplicates_total":                1,
			`parley_send_errors_total{code="not_found"}`:     1,
			`parley_send_errors_total{code="other"}`:         0,
			"parley_commit_batch_size_sum":                   6, // every send that reached the committer
			"parley_broadcast_messages_total":                0,
			`parley_sessions{transport="ws"}`:                1,
			`parley_sessions{transport="longpoll"}`:          1,
			`parley_connections_total{transport="ws"}`:       2,
			`parley_connections_total{transport="longpoll"}`: 1,
			`parley_frames_in_total{type="auth"}`:            1, // a long-poll connect is not a frame
			`parley_frames_in_total{type="send"}`:            7,
			`parley_frames_in_total{type="ack"}`:             1,
			`parley_frames_in_total{type="ping"}`:            2,
			`parley_frames_in_total{type="sync"}`:            0,
			`parley_frames_in_total{type="other"}`:           1,
			`parley_pushes_total{route="local"}`:             10, // both members of each of 5 messages
			`parley_pushes_total{route="remote"}`:            0,
			"parley_pushes_written_total":                    5, // the sender's own connection is skipped
			"parley_retransmits_total":                       0,
			`parley_closes_total{code="4000"}`:               1,
			`parley_closes_total{code="1001"}`:               0,
		})
		if got := n.samples(t)["parley_commit_seconds_count"] - before["parley_commit_seconds_count"]; got < 1 || got > 6 {
			t.Errorf("parley_commit_seconds_count moved by %v, want 1 to 6 batches", got)
		}

		// Sessions that end leave the gauge.
		_ = alice.conn.WriteClose(1000, nil)
		n.waitMetrics(t, before, map[string]float64{
			`parley_sessions{transport="ws"}`:       0,
			`parley_sessions{transport="longpoll"}`: 1,
			`parley_closes_total{code="1000"}`:      0, // the client closed it
		})
	})
}
