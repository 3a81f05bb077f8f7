package wire

import (
	"strings"
	"testing"

	"github.com/parley-im/parley"
)

func TestConvSetFrame(t *testing.T) {
	in, err := Decode([]byte(`{"type":"conv_set","id":"1","conv":"g:team","settings":{"pin":true,"hide":false}}`))
	if err != nil || in.Conv != "g:team" || in.Settings == nil || in.Settings.Pin == nil || !*in.Settings.Pin ||
		in.Settings.Hide == nil || *in.Settings.Hide || in.Settings.Mute != nil {
		t.Fatalf("Decode: %+v, %v; want pin true, hide false, mute unset", in, err)
	}
	for _, bad := range []string{
		`{"type":"conv_set","id":"1","settings":{"pin":true}}`,
		`{"type":"conv_set","id":"1","conv":"g:team"}`,
		`{"type":"conv_set","id":"1","conv":"g:team","settings":{}}`,
		`{"type":"conv_set","id":"1","conv":"g:team","settings":{"pin":"yes"}}`,
		`{"type":"conv_set","conv":"` + strings.Repeat("c", 200) + `","settings":{"pin":true}}`,
	} {
		_, err := Decode([]byte(bad))
		if c := parley.ErrorCode(err); c != parley.EInvalid && c != parley.EBadFrame {
			t.Errorf("Decode(%.60q): got %v, want invalid or bad_frame", bad, err)
		}
	}
	got := string(ConvChanged(parley.ConvState{ConvID: "d:a:b", Kind: parley.ConvDirect, LastSeq: 3, Ver: 9, Muted: true}))
	want := `{"type":"conv","conv":"d:a:b","kind":"direct","last_seq":3,"read_seq":0,"peer_read_seq":0,"unread":0,"ver":9,"muted":true}`
	if got != want {
		t.Fatalf("ConvChanged:\n got %s\nwant %s", got, want)
	}
}
