package wire

import (
	"strings"
	"testing"
)

func TestTypingFrame(t *testing.T) {
	in, err := Decode([]byte(`{"type":"typing","id":"1","conv":"g:team"}`))
	if err != nil || in.Conv != "g:team" {
		t.Fatalf("Decode: %+v, %v", in, err)
	}
	for _, bad := range []string{`{"type":"typing","id":"1"}`, `{"type":"typing","conv":"` + strings.Repeat("c", 200) + `"}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%.40q) accepted a bad typing frame", bad)
		}
	}
	if got := string(Typing("d:a:b", "a")); got != `{"type":"typing","conv":"d:a:b","user":"a"}` {
		t.Fatalf("Typing frame %s", got)
	}
}
