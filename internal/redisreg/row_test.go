package redisreg

import (
	"testing"
	"time"

	"github.com/parley-im/parley"
)

func TestRowRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		c    parley.ConnInfo
	}{
		{"typical", parley.ConnInfo{Node: "node-a", Device: "d1", Platform: parley.PlatformIOS, ClientIP: "2001:db8::1", Since: time.UnixMilli(1_700_000_000_123).UTC()}},
		{"empty fields and zero time", parley.ConnInfo{Node: "n"}},
		{"separators inside fields", parley.ConnInfo{Node: "3:a:b", Device: "12:", Platform: ":", ClientIP: "1:x", Since: time.UnixMilli(-5).UTC()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := encodeRow(&tt.c, "inst")
			var got parley.ConnInfo
			inst, ok := decodeRow(v, &got)
			if !ok || inst != "inst" || got != tt.c {
				t.Errorf("decodeRow(%q): got %+v, %q, %v; want %+v, \"inst\", true", v, got, inst, ok, tt.c)
			}
			if p := instancePrefix(tt.c.Node, "inst"); v[:len(p)] != p {
				t.Errorf("row %q does not start with its instance prefix %q", v, p)
			}
		})
	}
}

func TestDecodeRowRejects(t *testing.T) {
	for _, v := range []string{
		"", "x", "1:a", "1:a1:b1:c1:d", "1:a1:b1:c1:d1:e12x", "2:a", "-1:a1:b1:c1:d1:e",
		"01:a1:b1:c1:d1:e", "99999999999:a", "1:a1:b1:c1:d1:e 1",
	} {
		var c parley.ConnInfo
		if inst, ok := decodeRow(v, &c); ok {
			t.Errorf("decodeRow(%q): got %+v, %q, ok; want not ok", v, c, inst)
		}
	}
}

// FuzzDecodeRow: any stored value decodes or is refused without a panic,
// and what decodes encodes back to the same value.
func FuzzDecodeRow(f *testing.F) {
	f.Add(encodeRow(&parley.ConnInfo{Node: "node-a", Device: "d1", Platform: "web", ClientIP: "10.0.0.1", Since: time.UnixMilli(1_700_000_000_000)}, "ABCDEFGH"))
	f.Add("1:a1:b1:c1:d1:e")
	f.Add("0:0:0:0:0:")
	f.Add("3:a:b0:0:0:0:-12")
	f.Fuzz(func(t *testing.T, v string) {
		var c parley.ConnInfo
		inst, ok := decodeRow(v, &c)
		if !ok {
			return
		}
		if again := encodeRow(&c, inst); again != v {
			t.Errorf("decodeRow(%q) then encodeRow: got %q", v, again)
		}
	})
}
