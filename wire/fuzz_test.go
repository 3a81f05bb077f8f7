package wire_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// FuzzDecode checks that no input panics the decoder, that every error is
// a protocol error with a documented code, and that every accepted frame
// respects the limits.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"auth","id":"1","token":"t","device":"d1","platform":"web"}`,
		`{"type":"send","id":"2","to":"bob","cmid":"c1","body":{"text":"hi"}}`,
		`{"type":"send","conv":"d:a:b","kind":"custom","body":{"k":1}}`,
		`{"type":"ack","n":[1,2]}`,
		`{"type":"sync","since":1}`,
		`{"type":"pull","conv":"d:a:b","after":1,"before":9,"newest":true,"limit":5}`,
		`{"type":"read","conv":"d:a:b","seq":2}`,
		`{"type":"convs","limit":3}`,
		`{"type":"search","q":"北京 meet","conv":"d:a:b","before":7,"limit":20}`,
		`{"type":"ping"}`,
		`{}`, `[]`, `null`, `{"type":1}`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	codes := map[string]bool{parley.EBadFrame: true, parley.EInvalid: true, parley.ETooLarge: true, parley.EForbidden: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := wire.Decode(b)
		if err != nil {
			if c := parley.ErrorCode(err); !codes[c] {
				t.Fatalf("error code %q (%v) is not a protocol error", c, err)
			}
			return
		}
		if len(b) > wire.MaxFrameSize || len(in.ID) > wire.MaxRequestIDLen || in.Limit < 0 || in.Limit > wire.MaxLimit || len(in.N) > wire.MaxAcks {
			t.Fatalf("accepted a frame over its limits: %q", b)
		}
		if in.Type == wire.TSend && len(in.Body) > parley.MaxBodyLen {
			t.Fatalf("accepted a body of %d bytes", len(in.Body))
		}
		if in.Type == wire.TSearch && (in.Q == "" || utf8.RuneCountInString(in.Q) > parley.MaxSearchLen || in.Limit > parley.MaxSearchLimit) {
			t.Fatalf("accepted a search over its limits: %q", b)
		}
		// An accepted frame re-encodes and decodes to the same type.
		re, _ := json.Marshal(in)
		if in2, err := wire.Decode(re); err != nil || in2.Type != in.Type {
			t.Fatalf("re-encoded frame %s: %v", re, err)
		}
	})
}
