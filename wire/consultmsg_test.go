package wire_test

import (
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

func TestConsultWatchFrames(t *testing.T) {
	tests := []struct {
		name, frame, code string
	}{
		{"watch live", `{"type":"consult_watch","consult":"01jabc","live":true}`, ""},
		{"watch live without consult", `{"type":"consult_watch","live":true}`, parley.EInvalid},
		{"unwatch", `{"type":"consult_unwatch","consult":"01jabc"}`, ""},
		{"unwatch without consult", `{"type":"consult_unwatch"}`, parley.EInvalid},
		{"unwatch bad consult", `{"type":"consult_unwatch","consult":"a b"}`, parley.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := wire.Decode([]byte(tt.frame))
			if got := parley.ErrorCode(err); got != tt.code {
				t.Fatalf("got code %q (%v), want %q", got, err, tt.code)
			}
			if tt.code == "" && in.Type == wire.TConsultWatch && !in.Live {
				t.Fatalf("live: got false, want true")
			}
		})
	}
}

func TestConsultMsgFrame(t *testing.T) {
	m := &parley.Message{ConvID: "c:s1:u1", Seq: 7, Sender: "u1", Kind: parley.KindText, Body: []byte(`{"text":"hi"}`)}
	f := wire.ConsultMsgFrame(m)
	if got := wire.ConsultMsgConv(f); got != "c:s1:u1" {
		t.Fatalf("conv of %s: got %q, want c:s1:u1", f, got)
	}
	for _, other := range []string{`{"type":"consult","conv":"c:s1:u1"}`, `not json`, `{}`} {
		if got := wire.ConsultMsgConv([]byte(other)); got != "" {
			t.Fatalf("conv of %s: got %q, want none", other, got)
		}
	}
}
