package wire_test

import (
	"strings"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

func TestDecode(t *testing.T) {
	long := strings.Repeat("x", wire.MaxFrameSize)
	tests := []struct {
		name  string
		frame string
		code  string // "" for success
	}{
		{"auth", `{"type":"auth","id":"1","token":"t","device":"d1","platform":"web"}`, ""},
		{"auth without token", `{"type":"auth","device":"d1","platform":"web"}`, parley.EInvalid},
		{"auth bad platform", `{"type":"auth","token":"t","device":"d1","platform":"fridge"}`, parley.EInvalid},
		{"auth bad device", `{"type":"auth","token":"t","device":"_x","platform":"ios"}`, parley.EInvalid},
		{"send text", `{"type":"send","id":"2","to":"bob","cmid":"c1","body":{"text":"hi"}}`, ""},
		{"send custom", `{"type":"send","conv":"d:a:b","kind":"custom","body":{"k":[1,2]}}`, ""},
		{"send both to and conv", `{"type":"send","to":"bob","conv":"d:a:b","body":{"text":"hi"}}`, parley.EInvalid},
		{"send neither", `{"type":"send","body":{"text":"hi"}}`, parley.EInvalid},
		{"send empty text", `{"type":"send","to":"bob","body":{"text":""}}`, parley.EInvalid},
		{"send system", `{"type":"send","to":"bob","kind":"system","body":{}}`, parley.EForbidden},
		{"send unknown kind", `{"type":"send","to":"bob","kind":"video","body":{}}`, parley.EInvalid},
		{"send custom not object", `{"type":"send","to":"bob","kind":"custom","body":[1]}`, parley.EInvalid},
		{"send text too long", `{"type":"send","to":"bob","body":{"text":"` + strings.Repeat("a", parley.MaxTextLen+1) + `"}}`, parley.ETooLarge},
		{"send bad cmid", `{"type":"send","to":"bob","cmid":"a b","body":{"text":"x"}}`, parley.EInvalid},
		{"ack", `{"type":"ack","n":[1,2,3]}`, ""},
		{"ack empty", `{"type":"ack","n":[]}`, parley.EInvalid},
		{"sync", `{"type":"sync","id":"3","since":5}`, ""},
		{"pull", `{"type":"pull","id":"4","conv":"d:a:b","after":3,"limit":10}`, ""},
		{"pull no conv", `{"type":"pull","id":"4"}`, parley.EInvalid},
		{"pull limit too big", `{"type":"pull","conv":"d:a:b","limit":100000}`, parley.EInvalid},
		{"read", `{"type":"read","conv":"d:a:b","seq":3}`, ""},
		{"ping", `{"type":"ping"}`, ""},
		{"search", `{"type":"search","id":"5","q":"北京 meet","conv":"d:a:b","before":9,"limit":10}`, ""},
		{"search everywhere", `{"type":"search","q":"x"}`, ""},
		{"search without q", `{"type":"search","id":"5"}`, parley.EInvalid},
		{"search q of 200 characters", `{"type":"search","q":"` + strings.Repeat("北", parley.MaxSearchLen) + `"}`, ""},
		{"search q too long", `{"type":"search","q":"` + strings.Repeat("a", parley.MaxSearchLen+1) + `"}`, parley.EInvalid},
		{"search limit too big", `{"type":"search","q":"x","limit":101}`, parley.EInvalid},
		{"search conv too long", `{"type":"search","q":"x","conv":"` + strings.Repeat("c", parley.MaxConvIDLen+1) + `"}`, parley.EInvalid},
		{"search before not a number", `{"type":"search","q":"x","before":"01HX"}`, parley.EBadFrame},
		{"no type", `{"id":"1"}`, parley.EBadFrame},
		{"unknown type", `{"type":"dance"}`, parley.EBadFrame},
		{"not json", `hello`, parley.EBadFrame},
		{"invalid utf-8 in a body", "{\"type\":\"send\",\"to\":\"bob\",\"kind\":\"custom\",\"body\":{\"a\":\"\xff\"}}", parley.EBadFrame},
		{"json array", `[1,2]`, parley.EBadFrame},
		{"wrong field type", `{"type":"sync","since":"x"}`, parley.EBadFrame},
		{"id too long", `{"type":"ping","id":"` + strings.Repeat("i", 65) + `"}`, parley.EInvalid},
		{"oversize", `{"type":"ping","x":"` + long + `"}`, parley.ETooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wire.Decode([]byte(tt.frame))
			if got := parley.ErrorCode(err); got != tt.code {
				t.Fatalf("Decode: got code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func TestDecodeKeepsIDOnInvalid(t *testing.T) {
	in, err := wire.Decode([]byte(`{"type":"pull","id":"req-7"}`))
	if err == nil || in == nil || in.ID != "req-7" {
		t.Fatalf("got in=%v err=%v, want the id kept with an error", in, err)
	}
}
