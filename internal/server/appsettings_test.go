package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/wire"
)

// settingsAnswer is the answer of GET and PATCH /v1/server/settings.
type settingsAnswer struct {
	Settings map[string]any `json:"settings"`
	App      map[string]any `json:"app"`
}

// patchSettings changes the demo app's settings and fails the test
// unless the change is accepted.
func (n *node) patchSettings(t *testing.T, body map[string]any) settingsAnswer {
	t.Helper()
	var out settingsAnswer
	if st := n.api(t, "PATCH", "/v1/server/settings", body, &out); st != http.StatusOK {
		t.Fatalf("PATCH settings %v: got status %d, want 200", body, st)
	}
	return out
}

// TestAppSettingsAPI: an app starts with the node's configuration as its
// settings; PATCH sets fields, null returns one to the node's default,
// and every field is validated with a clear error, the refused change
// leaving the settings as they were.
func TestAppSettingsAPI(t *testing.T) {
	n := startNode(t, "gws", func(c *server.Config) {
		c.MaxFileSize, c.GroupMaxMembers, c.RecallWindow = 1<<20, 500, time.Minute
	})
	var got settingsAnswer
	if st := n.api(t, "GET", "/v1/server/settings", nil, &got); st != 200 {
		t.Fatalf("GET: status %d", st)
	}
	want := `map[edit:true edit_seconds:86400 file_max_bytes:1.048576e+06 file_types:<nil> group_max_members:500 recall_seconds:60 receipts:true typing:true]`
	if fmt.Sprint(got.Settings) != want || len(got.App) != 0 {
		t.Fatalf("GET of a new app: got %v and own %v, want the node's %s and none of its own", got.Settings, got.App, want)
	}
	got = n.patchSettings(t, map[string]any{"typing": false, "recall_seconds": 0, "file_types": []string{"image/*"}})
	if got.Settings["typing"] != false || got.Settings["recall_seconds"] != 0.0 || fmt.Sprint(got.Settings["file_types"]) != "[image/*]" ||
		got.Settings["receipts"] != true || len(got.App) != 3 {
		t.Fatalf("PATCH: got %+v", got)
	}
	got = n.patchSettings(t, map[string]any{"typing": nil, "edit": false})
	if got.Settings["typing"] != true || got.Settings["edit"] != false || got.App["typing"] != nil || len(got.App) != 3 {
		t.Fatalf("PATCH with null: got %+v, want typing back to the node's default", got)
	}

	for _, c := range []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"unknown setting", `{"typing":true,"colour":"red"}`, 400, `unknown setting \"colour\"`},
		{"unknown setting reset", `{"colour":null}`, 400, `unknown setting \"colour\"`},
		{"wrong type", `{"typing":"no"}`, 400, "body is not valid JSON"},
		{"not an object", `[1]`, 400, "body is not valid JSON"},
		{"null body", `null`, 400, "JSON object of settings"},
		{"recall negative", `{"recall_seconds":-1}`, 400, "recall_seconds must be 0-2592000"},
		{"edit window zero", `{"edit_seconds":0}`, 400, "edit_seconds must be 1-2592000"},
		{"group over the limit", `{"group_max_members":100001}`, 400, "group_max_members must be 1-100000"},
		{"file over the node's", `{"file_max_bytes":2000000}`, 400, "at most 1048576, the node's limit"},
		{"file type the node refuses", `{"file_types":["text/html"]}`, 400, "not allowed on this node"},
		{"file type malformed", `{"file_types":["images"]}`, 400, "file_types entries are media types"},
		{"too many file types", `{"file_types":[` + strings.TrimSuffix(strings.Repeat(`"image/png",`, 65), ",") + `]}`, 413, "at most 64"},
		{"too large", `{"file_types":["` + strings.Repeat("x", 70<<10) + `"]}`, 413, "body larger than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := do(t, "PATCH", n.URL()+"/v1/server/settings", n.key, nil, []byte(c.body))
			if res.StatusCode != c.status || !strings.Contains(string(body), c.msg) {
				t.Fatalf("got %d %s, want %d mentioning %q", res.StatusCode, body, c.status, c.msg)
			}
		})
	}
	var after settingsAnswer
	n.api(t, "GET", "/v1/server/settings", nil, &after)
	if fmt.Sprint(after) != fmt.Sprint(got) {
		t.Errorf("after refused changes: got %+v, want %+v", after, got)
	}
	if res, _ := do(t, "GET", n.URL()+"/v1/server/settings", "pk_demo_"+strings.Repeat("A", 43), nil, nil); res.StatusCode != 401 {
		t.Errorf("bad key: got %d, want 401", res.StatusCode)
	}
}

// TestAppSettingsChangeLiveSessions: each switch, changed through the
// server API, changes what the connected devices of the app can do at
// once (this node made the change), and undoing it restores it.
func TestAppSettingsChangeLiveSessions(t *testing.T) {
	transports(t, func(t *testing.T, tr string) {
		n := startNode(t, tr)
		n.users(t, "alice", "bob", "carol", "dave")
		alice, bob := login(t, n, "alice"), login(t, n, "bob")
		const dm = "d:alice:bob"
		send := func(text string) uint64 {
			t.Helper()
			res := alice.callData(t, "s-"+text, `{"type":"send","id":"s-`+text+`","to":"bob","body":{"text":"`+text+`"}}`)
			return uint64(res["msg"].(map[string]any)["seq"].(float64))
		}

		t.Run("typing", func(t *testing.T) {
			alice.callData(t, "t1", `{"type":"typing","id":"t1","conv":"`+dm+`"}`)
			if f := bob.until(t, "typing"); f["user"] != "alice" {
				t.Fatalf("typing push: got %v", f)
			}
			n.patchSettings(t, map[string]any{"typing": false})
			// Indicators are limited to one per conversation per second
			// (rate_limited, checked first): another conversation, then
			// back to this one, needs no wait.
			if code := alice.callCode(t, "t2", `{"type":"typing","id":"t2","conv":"d:alice:carol"}`); code != "disabled" {
				t.Fatalf("typing switched off: got %q, want disabled", code)
			}
			if code := alice.callCode(t, "t3", `{"type":"typing","id":"t3","conv":"`+dm+`"}`); code != "disabled" {
				t.Fatalf("typing switched off: got %q, want disabled", code)
			}
			bob.quiet(t, "typing", 100*time.Millisecond)
			n.patchSettings(t, map[string]any{"typing": nil})
			alice.callData(t, "t4", `{"type":"typing","id":"t4","conv":"d:alice:carol"}`)
			alice.callData(t, "t5", `{"type":"typing","id":"t5","conv":"`+dm+`"}`)
			bob.until(t, "typing")
		})

		t.Run("receipts", func(t *testing.T) {
			seq := send("r1")
			bob.callData(t, "r1", fmt.Sprintf(`{"type":"read","id":"r1","conv":"%s","seq":%d}`, dm, seq))
			if f := alice.until(t, "read"); f["user"] != "bob" {
				t.Fatalf("read push: got %v", f)
			}
			if d := alice.callData(t, "rr1", fmt.Sprintf(`{"type":"read_receipts","id":"rr1","conv":"%s","seq":%d}`, dm, seq)); d["read"] != 2.0 {
				t.Fatalf("read_receipts: got %v, want 2 readers", d)
			}
			n.patchSettings(t, map[string]any{"receipts": false})
			seq = send("r2")
			st := bob.callData(t, "r2", fmt.Sprintf(`{"type":"read","id":"r2","conv":"%s","seq":%d}`, dm, seq))
			if st["read_seq"] != float64(seq) || st["peer_read_seq"] != 0.0 {
				t.Fatalf("bob's read answer with receipts off: got %v, want his cursor moved and no peer cursor", st)
			}
			alice.quiet(t, "read", 100*time.Millisecond)
			if code := alice.callCode(t, "rr2", fmt.Sprintf(`{"type":"read_receipts","id":"rr2","conv":"%s","seq":%d}`, dm, seq)); code != "disabled" {
				t.Fatalf("read_receipts switched off: got %q, want disabled", code)
			}
			sync := alice.callData(t, "y", `{"type":"sync","id":"y","since":0}`)
			for _, c := range sync["convs"].([]any) {
				if c := c.(map[string]any); c["peer_read_seq"] != 0.0 {
					t.Fatalf("sync with receipts off: got %v, want no peer cursor", c)
				}
			}
			n.patchSettings(t, map[string]any{"receipts": true})
			seq = send("r3")
			bob.callData(t, "r3", fmt.Sprintf(`{"type":"read","id":"r3","conv":"%s","seq":%d}`, dm, seq))
			if f := alice.until(t, "read"); f["seq"] != float64(seq) {
				t.Fatalf("read push with receipts back on: got %v", f)
			}
		})

		t.Run("recall and edit", func(t *testing.T) {
			seq := send("x1")
			n.patchSettings(t, map[string]any{"recall_seconds": 0, "edit": false})
			recall := fmt.Sprintf(`{"type":"send","id":"%%s","to":"bob","kind":"recall","body":{"seq":%d}}`, seq)
			edit := fmt.Sprintf(`{"type":"send","id":"e","to":"bob","kind":"edit","body":{"seq":%d,"text":"fixed"}}`, seq)
			if code := alice.callCode(t, "c1", fmt.Sprintf(recall, "c1")); code != "disabled" {
				t.Fatalf("recall switched off: got %q, want disabled", code)
			}
			if code := alice.callCode(t, "e", edit); code != "disabled" {
				t.Fatalf("edit switched off: got %q, want disabled", code)
			}
			n.patchSettings(t, map[string]any{"edit": true, "recall_seconds": 3600})
			alice.callData(t, "e", edit)
			alice.callData(t, "c2", fmt.Sprintf(recall, "c2"))
		})

		t.Run("group size", func(t *testing.T) {
			n.patchSettings(t, map[string]any{"group_max_members": 3})
			if code := alice.callCode(t, "g1", `{"type":"group_create","id":"g1","group":"big","members":["bob","carol","dave"]}`); code != "conflict" {
				t.Fatalf("a group of 4 under a limit of 3: got %q, want conflict", code)
			}
			g := alice.callData(t, "g2", `{"type":"group_create","id":"g2","group":"small","members":["bob","carol"]}`)
			if max := g["group"].(map[string]any)["max_members"]; max != 3.0 {
				t.Fatalf("new group's limit: got %v, want the app's 3", max)
			}
			if code := alice.callCode(t, "g3", `{"type":"group_add","id":"g3","group":"small","members":["dave"]}`); code != "conflict" {
				t.Fatalf("a fourth member: got %q, want conflict", code)
			}
			var e wire.ErrorBody
			if st := n.api(t, "POST", "/v1/server/groups", map[string]any{"id": "wide", "owner": "alice", "max_members": 10}, &e); st != 400 {
				t.Fatalf("backend group over the app's limit: got %d %+v, want 400", st, e)
			}
		})

		t.Run("files", func(t *testing.T) {
			upload := func(data []byte) (*http.Response, []byte) {
				return do(t, "POST", n.URL()+"/v1/files?conv="+dm+"&name=a.png", n.token(t, "alice"), nil, data)
			}
			if res, body := upload(testPNG(200)); res.StatusCode != 201 {
				t.Fatalf("upload under the node's limits: got %d %s", res.StatusCode, body)
			}
			n.patchSettings(t, map[string]any{"file_max_bytes": 100})
			res, body := upload(testPNG(200))
			wantError(t, "over the app's size", res, body, 413, "too_large")
			n.patchSettings(t, map[string]any{"file_max_bytes": nil, "file_types": []string{"application/pdf"}})
			res, body = upload(testPNG(200))
			wantError(t, "a type the app refuses", res, body, 400, "invalid")
			n.patchSettings(t, map[string]any{"file_types": []string{"image/*"}})
			if res, body := upload(testPNG(200)); res.StatusCode != 201 {
				t.Fatalf("an image where images are allowed: got %d %s", res.StatusCode, body)
			}
			n.patchSettings(t, map[string]any{"file_types": []string{}})
			res, body = upload(testPNG(200))
			wantError(t, "uploads switched off", res, body, 400, "invalid")
		})
	})
}

// FuzzAppSettingsPatch sends arbitrary bodies to PATCH
// /v1/server/settings on a real node: no input gets a 5xx answer, and
// the settings can still be read afterwards.
func FuzzAppSettingsPatch(f *testing.F) {
	for _, s := range []string{
		`{"typing":false,"receipts":null}`, `{"recall_seconds":0,"edit":true,"edit_seconds":60}`,
		`{"group_max_members":3}`, `{"file_max_bytes":100,"file_types":["image/*","application/pdf"]}`,
		`{"file_types":[]}`, `{"file_types":null}`, `{"typing":"no"}`, `{"x":1}`, `{"recall_seconds":1e400}`,
		``, `{}`, `[]`, `null`, `{"file_types":["` + "\xff" + `"]}`,
	} {
		f.Add(s)
	}
	n := startNode(f, "gws")
	f.Fuzz(func(t *testing.T, body string) {
		res, b := do(t, "PATCH", n.URL()+"/v1/server/settings", n.key, nil, []byte(body))
		if res.StatusCode >= 500 {
			t.Fatalf("PATCH %q: status %d %s", body, res.StatusCode, b)
		}
		if st := n.api(t, "GET", "/v1/server/settings", nil, nil); st != 200 {
			t.Fatalf("GET after PATCH %q: status %d", body, st)
		}
	})
}
