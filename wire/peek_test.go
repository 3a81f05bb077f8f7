package wire

import (
	"strings"
	"testing"
)

func TestPeekID(t *testing.T) {
	for frame, want := range map[string]string{
		`{"type":"send","id":"42","body":{"text":"x"}}`: "42",
		`{"id":"a","type":"nonsense","extra":[1,2]}`:    "a",
		`{"type":"ack","n":[1]}`:                        "",
		`not json`:                                      "",
		`{"id":7}`:                                      "",
		`{"id":"` + strings.Repeat("x", MaxRequestIDLen+1) + `"}`: "",
	} {
		if got := PeekID([]byte(frame)); got != want {
			t.Errorf("PeekID(%.40q) = %q, want %q", frame, got, want)
		}
	}
}
