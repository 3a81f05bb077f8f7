package remote

import (
	"strings"
	"testing"

	"github.com/parley-im/parley"
)

// FuzzDecodeRequest: whatever another node (or anyone on the NATS) sends,
// decoding returns a request naming an app and a sender, or a bad_frame /
// too_large error; it never panics.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"app":"demo","from":"ann","to":"bob","cmid":"c1","kind":"text","body":{"text":"hi"},"client":true,"skip":"x"}`))
	f.Add([]byte(`{"app":"demo","from":"_system","conv":"g:team","kind":"system","body":{},"variants":[{"role":"agent","body":{"text":"a"}}]}`))
	f.Add([]byte(`{"app":"","from":"ann"}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"app":"a","from":"b","body":` + strings.Repeat("[", 100) + `}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(b)
		if err != nil {
			if c := parley.ErrorCode(err); c != parley.EBadFrame && c != parley.ETooLarge {
				t.Fatalf("decodeRequest: error code %q, want bad_frame or too_large", c)
			}
			return
		}
		if req.AppID == "" || req.Sender == "" {
			t.Fatalf("decodeRequest accepted %q without app or sender", b)
		}
	})
}
