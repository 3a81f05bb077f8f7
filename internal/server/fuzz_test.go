package server_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// FuzzServerAPIBodies sends arbitrary bodies to every server API route
// that takes one, and to the long-poll connect, on a real node: no input
// may get a 5xx answer or take the node down.
func FuzzServerAPIBodies(f *testing.F) {
	for _, s := range []string{
		`{"users":[{"id":"alice","name":"A","metadata":{"k":1}}]}`,
		`{"user":"alice","device":"d","ttl_seconds":3600}`,
		`{"from":"alice","to":"bob","cmid":"c","kind":"custom","body":{"x":[1,2]}}`,
		`{"users":["alice","bob"],"kind":"text","body":{"text":"hi"}}`,
		`{"all":true,"body":{"n":1}}`,
		`{"to":"bob","kind":"system","body":{"text":"x"},"variants":[{"role":"agent","platform":"ios","body":{"text":"y"}}]}`,
		`{"token":"x","device":"d","platform":"web"}`,
		`{"device":"phone"}`,
		`{"users":["bob"],"alias":"Bobby"}`,
		``, `{}`, `[]`, `null`, `{"users":[{"id":"` + "\xff" + `"}]}`, `{"ttl_seconds":1e400}`,
	} {
		f.Add(s)
	}
	routes := []string{"/v1/server/users", "/v1/server/tokens", "/v1/server/messages",
		"/v1/server/broadcast", "/v1/server/users/alice/revoke", "/v1/lp/connect",
		"/v1/server/users/alice/contacts", "/v1/server/users/alice/contacts/remove", "/v1/server/presence"}
	n := startNode(f, "gws")
	n.users(f, "alice", "bob")
	f.Fuzz(func(t *testing.T, body string) {
		for _, route := range routes {
			req, _ := http.NewRequest("POST", n.URL()+route, bytes.NewReader([]byte(body)))
			req.Header.Set("Authorization", "Bearer "+n.key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", route, err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 {
				t.Fatalf("%s with %q: status %d", route, body, res.StatusCode)
			}
		}
	})
}
