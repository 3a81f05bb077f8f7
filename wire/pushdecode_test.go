package wire_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// realPush is a push as the server writes it.
const realPush = `{"type":"msg","n":7,"msg":{"conv":"g:01JDXYZ8Q4KX5V2N3M7P9R6T0W","seq":42,"id":"01JDXYZABCDEF0123456789XYZ","from":"u17","kind":"text","body":{"text":"s3:1733071234567890123"},"ts":1733071234567}}`

// pushFrame builds a push the way the server does.
func pushFrame(t testing.TB, n uint64, m parley.Message) []byte {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return wire.Msg(n, raw)
}

// goodPushes are frames the fast path must take.
func goodPushes(t testing.TB) map[string][]byte {
	text := parley.Message{ConvID: "d:u1:u2", Seq: 42, ID: "01JDXYZABCDEF0123456789XYZ", Sender: "u1", Kind: parley.KindText,
		Body: json.RawMessage(`{"text":"hello"}`), Time: 1733071234567}
	withCmid := text
	withCmid.ClientMsgID = "c-17"
	image := text
	image.Kind = parley.KindImage
	image.Body = json.RawMessage(`{"file":"abcdefghijklmnopqrstuvwxyq","size":123456,"mime":"image/png","width":640,"height":480,"caption":"日本 <b>&amp; \"q\" \\ é\n","meta":{"a":[1,-2.5e-3,true,false,null,{"b":[]}],"c":{}}}`)
	large := text
	large.Seq, large.Time = math.MaxUint64, math.MaxInt64
	zero := parley.Message{Body: json.RawMessage(`{}`)}
	custom := text
	custom.Kind = parley.KindCustom
	custom.Body = json.RawMessage(`[["x",0,1.5,-0,1E+2,"\u00e9\ud83d\ude00\/"]]`)
	str := text
	str.Body = json.RawMessage(`"just a string"`)
	num := text
	num.Body = json.RawMessage(`-12.5e7`)
	boolean := text
	boolean.Body = json.RawMessage(`true`)
	deep := text
	deep.Body = json.RawMessage(strings.Repeat(`{"a":[`, 100) + strings.Repeat(`]}`, 100))
	del := text
	del.ConvID = "g:\x7f~ !#$%'()*+,-./:;=?@[]^_`{|}"

	frames := map[string][]byte{
		"real":      []byte(realPush),
		"text":      pushFrame(t, 1, text),
		"cmid":      pushFrame(t, 2, withCmid),
		"image":     pushFrame(t, 3, image),
		"large":     pushFrame(t, math.MaxUint64, large),
		"zero":      pushFrame(t, 0, zero),
		"custom":    pushFrame(t, 4, custom),
		"string":    pushFrame(t, 5, str),
		"number":    pushFrame(t, 6, num),
		"bool":      pushFrame(t, 7, boolean),
		"deep":      pushFrame(t, 8, deep),
		"printable": pushFrame(t, 9, del),
		// Hand-written frames json.Marshal would not produce.
		"whitespace": []byte(" \r\n\t{ \"type\" : \"msg\" ,\n \"n\" : 7 , \"msg\" : { \"conv\" : \"c\" , \"seq\" : 1 , \"body\" : { \"a\" : [ 1 , 2 ] } , \"ts\" : 0 } } \n\t\r "),
		"reordered":  []byte(`{"msg":{"ts":5,"body":{"text":"x"},"kind":"text","cmid":"","from":"u","id":"i","seq":3,"conv":"c"},"n":9,"type":"msg"}`),
		"no body":    []byte(`{"type":"msg","n":1,"msg":{"conv":"c","seq":1}}`),
		"empty msg":  []byte(`{"type":"msg","n":1,"msg":{}}`),
		"raw utf8":   []byte("{\"type\":\"msg\",\"n\":1,\"msg\":{\"conv\":\"c\",\"body\":{\"text\":\"\xff\xfe bad \xc3 utf8\"}}}"),
	}
	return frames
}

// badPushes are frames the fast path must decline, valid JSON or not.
var badPushes = map[string]string{
	"empty":                        ``,
	"space":                        ` `,
	"null":                         `null`,
	"empty object":                 `{}`,
	"array":                        `[]`,
	"type res":                     `{"type":"res","id":"1","data":{}}`,
	"type msgx":                    `{"type":"msgx","n":1,"msg":{}}`,
	"type number":                  `{"type":1,"n":1,"msg":{}}`,
	"pong":                         `{"type":"pong"}`,
	"escape in conv":               `{"type":"msg","n":1,"msg":{"conv":"a\u0062","seq":1}}`,
	"escape in type":               `{"type":"ms\u0067","n":1,"msg":{}}`,
	"escape in key":                `{"type":"msg","n":1,"msg":{"con\u0076":"a"}}`,
	"quote escape":                 `{"type":"msg","n":1,"msg":{"conv":"a\"b"}}`,
	"non-ascii conv":               "{\"type\":\"msg\",\"n\":1,\"msg\":{\"conv\":\"é\"}}",
	"invalid utf8 from":            "{\"type\":\"msg\",\"n\":1,\"msg\":{\"from\":\"\xff\"}}",
	"control in id":                "{\"type\":\"msg\",\"n\":1,\"msg\":{\"id\":\"a\tb\"}}",
	"unknown key":                  `{"type":"msg","n":1,"msg":{},"x":1}`,
	"unknown msg key":              `{"type":"msg","n":1,"msg":{"conv":"c","extra":true}}`,
	"dash key":                     `{"type":"msg","n":1,"msg":{"-":"app"}}`,
	"read fields":                  `{"type":"msg","n":1,"msg":{},"conv":"c","user":"u","seq":3}`,
	"upper Type":                   `{"Type":"msg","n":1,"msg":{}}`,
	"upper N":                      `{"type":"msg","N":1,"msg":{}}`,
	"upper Conv":                   `{"type":"msg","n":1,"msg":{"Conv":"c"}}`,
	"upper SEQ":                    `{"type":"msg","n":1,"msg":{"SEQ":1}}`,
	"duplicate type":               `{"type":"msg","type":"msg","n":1,"msg":{}}`,
	"duplicate n":                  `{"type":"msg","n":1,"n":2,"msg":{}}`,
	"duplicate msg":                `{"type":"msg","n":1,"msg":{},"msg":{}}`,
	"duplicate seq":                `{"type":"msg","n":1,"msg":{"seq":1,"seq":2}}`,
	"duplicate body":               `{"type":"msg","n":1,"msg":{"body":{},"body":[]}}`,
	"duplicate conv":               `{"type":"msg","n":1,"msg":{"conv":"a","conv":"b"}}`,
	"null msg":                     `{"type":"msg","n":1,"msg":null}`,
	"null n":                       `{"type":"msg","n":null,"msg":{}}`,
	"null type":                    `{"type":null,"n":1,"msg":{}}`,
	"null body":                    `{"type":"msg","n":1,"msg":{"body":null}}`,
	"null conv":                    `{"type":"msg","n":1,"msg":{"conv":null}}`,
	"null seq":                     `{"type":"msg","n":1,"msg":{"seq":null}}`,
	"null cmid":                    `{"type":"msg","n":1,"msg":{"cmid":null}}`,
	"missing type":                 `{"n":1,"msg":{}}`,
	"missing n":                    `{"type":"msg","msg":{}}`,
	"missing msg":                  `{"type":"msg","n":1}`,
	"negative n":                   `{"type":"msg","n":-1,"msg":{}}`,
	"negative ts":                  `{"type":"msg","n":1,"msg":{"ts":-1}}`,
	"minus zero seq":               `{"type":"msg","n":1,"msg":{"seq":-0}}`,
	"float seq":                    `{"type":"msg","n":1,"msg":{"seq":1.0}}`,
	"exponent n":                   `{"type":"msg","n":1e3,"msg":{}}`,
	"exponent ts":                  `{"type":"msg","n":1,"msg":{"ts":0E0}}`,
	"leading zero n":               `{"type":"msg","n":01,"msg":{}}`,
	"leading zero seq":             `{"type":"msg","n":1,"msg":{"seq":00}}`,
	"plus n":                       `{"type":"msg","n":+1,"msg":{}}`,
	"string n":                     `{"type":"msg","n":"1","msg":{}}`,
	"string seq":                   `{"type":"msg","n":1,"msg":{"seq":"1"}}`,
	"number conv":                  `{"type":"msg","n":1,"msg":{"conv":1}}`,
	"bool ts":                      `{"type":"msg","n":1,"msg":{"ts":true}}`,
	"array msg":                    `{"type":"msg","n":1,"msg":[]}`,
	"overflow n":                   `{"type":"msg","n":18446744073709551616,"msg":{}}`,
	"overflow n big":               `{"type":"msg","n":99999999999999999999,"msg":{}}`,
	"overflow seq":                 `{"type":"msg","n":1,"msg":{"seq":18446744073709551616}}`,
	"overflow ts":                  `{"type":"msg","n":1,"msg":{"ts":9223372036854775808}}`,
	"variants":                     `{"type":"msg","n":1,"msg":{"conv":"c","variants":[{"role":"agent","body":{}}]}}`,
	"empty variants":               `{"type":"msg","n":1,"msg":{"variants":[]}}`,
	"null variants":                `{"type":"msg","n":1,"msg":{"variants":null}}`,
	"trailing garbage":             `{"type":"msg","n":1,"msg":{}}x`,
	"trailing brace":               `{"type":"msg","n":1,"msg":{}}}`,
	"trailing object":              `{"type":"msg","n":1,"msg":{}}{}`,
	"trailing nul":                 "{\"type\":\"msg\",\"n\":1,\"msg\":{}}\x00",
	"trailing comma":               `{"type":"msg","n":1,"msg":{},}`,
	"msg comma":                    `{"type":"msg","n":1,"msg":{"seq":1,}}`,
	"missing colon":                `{"type":"msg","n" 1,"msg":{}}`,
	"missing comma":                `{"type":"msg" "n":1,"msg":{}}`,
	"single quotes":                `{'type':'msg','n':1,'msg':{}}`,
	"bad body":                     `{"type":"msg","n":1,"msg":{"body":{"text":}}}`,
	"bad body colon":               `{"type":"msg","n":1,"msg":{"body":{"a" 1}}}`,
	"bad body comma":               `{"type":"msg","n":1,"msg":{"body":[1,]}}`,
	"bad body key":                 `{"type":"msg","n":1,"msg":{"body":{1:2}}}`,
	"bad body literal":             `{"type":"msg","n":1,"msg":{"body":tru}}`,
	"bad body true":                `{"type":"msg","n":1,"msg":{"body":truex}}`,
	"bad body escape":              `{"type":"msg","n":1,"msg":{"body":"\x"}}`,
	"bad body unicode":             `{"type":"msg","n":1,"msg":{"body":"\u12g4"}}`,
	"short unicode":                `{"type":"msg","n":1,"msg":{"body":"\u12"}}`,
	"body control":                 "{\"type\":\"msg\",\"n\":1,\"msg\":{\"body\":\"a\nb\"}}",
	"bad body number":              `{"type":"msg","n":1,"msg":{"body":01}}`,
	"bad body fraction":            `{"type":"msg","n":1,"msg":{"body":1.}}`,
	"bad body exponent":            `{"type":"msg","n":1,"msg":{"body":1e}}`,
	"bad body minus":               `{"type":"msg","n":1,"msg":{"body":-}}`,
	"bad body dot":                 `{"type":"msg","n":1,"msg":{"body":.5}}`,
	"unclosed body":                `{"type":"msg","n":1,"msg":{"body":{"a":1}}`,
	"body too deep":                `{"type":"msg","n":1,"msg":{"body":` + strings.Repeat(`[`, wire.MaxBodyDepth+1) + strings.Repeat(`]`, wire.MaxBodyDepth+1) + `}}`,
	"body deeper than json allows": `{"type":"msg","n":1,"msg":{"body":` + strings.Repeat(`[`, 9999) + strings.Repeat(`]`, 9999) + `}}`,
}

// checkAgainstJSON fails unless json.Unmarshal of b gives exactly n and m.
func checkAgainstJSON(t *testing.T, b []byte, n uint64, m parley.Message) {
	t.Helper()
	var f pushFrameJSON
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("DecodePush took %q, json.Unmarshal refuses it: %v", b, err)
	}
	if f.Type != wire.TMsg || f.N != n || f.Msg == nil {
		t.Fatalf("DecodePush took %q as push %d; json.Unmarshal gives type %q, n %d, msg %v", b, n, f.Type, f.N, f.Msg)
	}
	if !bytes.Equal(f.Msg.Body, m.Body) || (f.Msg.Body == nil) != (m.Body == nil) {
		t.Fatalf("DecodePush of %q: body %q, json.Unmarshal gives %q", b, m.Body, f.Msg.Body)
	}
	if !reflect.DeepEqual(*f.Msg, m) {
		t.Fatalf("DecodePush of %q:\n got %#v\nwant %#v", b, m, *f.Msg)
	}
}

func TestDecodePushTakes(t *testing.T) {
	for name, b := range goodPushes(t) {
		t.Run(name, func(t *testing.T) {
			n, m, ok := wire.DecodePush(b)
			if !ok {
				t.Fatalf("DecodePush declined %q", b)
			}
			checkAgainstJSON(t, b, n, m)
			// The body is a copy: the transport may reuse its buffer.
			if len(m.Body) > 0 {
				body := append([]byte(nil), m.Body...)
				for i := range b {
					b[i] = 'x'
				}
				if !bytes.Equal(m.Body, body) {
					t.Fatalf("the body shares the frame's memory")
				}
			}
		})
	}
}

func TestDecodePushDeclines(t *testing.T) {
	for name, s := range badPushes {
		t.Run(name, func(t *testing.T) {
			if n, m, ok := wire.DecodePush([]byte(s)); ok {
				t.Fatalf("DecodePush took %q: n %d, %#v", s, n, m)
			}
		})
	}
}

// TestDecodePushTruncated declines every proper prefix of good frames
// (none of them is a valid frame: they end inside the outer object).
func TestDecodePushTruncated(t *testing.T) {
	for name, b := range goodPushes(t) {
		end := bytes.LastIndexByte(b, '}')
		for i := 0; i < end; i++ {
			if _, _, ok := wire.DecodePush(b[:i]); ok {
				t.Fatalf("%s: DecodePush took the prefix %q", name, b[:i])
			}
		}
	}
}

// FuzzDecodePush checks DecodePush against json.Unmarshal: whatever the
// fast path takes, json.Unmarshal must decode to the same push. It also
// checks that the fast path takes the canonical encoding of any plain push
// json.Unmarshal accepts.
func FuzzDecodePush(f *testing.F) {
	for _, b := range goodPushes(f) {
		f.Add(b)
	}
	for _, s := range badPushes {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)
		n, m, ok := wire.DecodePush(b)
		if !bytes.Equal(in, b) {
			t.Fatalf("DecodePush changed its input")
		}
		if ok {
			checkAgainstJSON(t, b, n, m)
			return
		}
		// Declined: if json.Unmarshal sees a plain push, its canonical
		// encoding must be taken.
		var fr pushFrameJSON
		if json.Unmarshal(b, &fr) != nil || fr.Type != wire.TMsg || fr.Msg == nil || fr.Msg.Variants != nil ||
			len(fr.Msg.Body) == 0 || string(fr.Msg.Body) == "null" || jsonDepth(fr.Msg.Body) > wire.MaxBodyDepth {
			return
		}
		msg := *fr.Msg
		for _, s := range []string{msg.ConvID, msg.ID, msg.Sender, msg.ClientMsgID, string(msg.Kind)} {
			for i := 0; i < len(s); i++ {
				if c := s[i]; c < 0x20 || c >= 0x7f || strings.IndexByte(`"\<>&`, c) >= 0 {
					return
				}
			}
		}
		raw, err := json.Marshal(msg)
		if err != nil {
			return
		}
		canon := wire.Msg(fr.N, raw)
		n, m, ok = wire.DecodePush(canon)
		if !ok {
			t.Fatalf("DecodePush declined the canonical push %q", canon)
		}
		checkAgainstJSON(t, canon, n, m)
	})
}

// jsonDepth is how deeply the valid JSON value v nests.
func jsonDepth(v []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

func BenchmarkDecodePush(b *testing.B) {
	frame := []byte(realPush)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, _, ok := wire.DecodePush(frame); !ok {
			b.Fatal("declined")
		}
	}
}

func BenchmarkDecodePushJSON(b *testing.B) {
	frame := []byte(realPush)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		var f pushFrameJSON
		if err := json.Unmarshal(frame, &f); err != nil || f.Msg == nil {
			b.Fatal(err)
		}
	}
}

// pushFrameJSON is what encoding/json makes of a push, for comparison.
type pushFrameJSON struct {
	Type string          `json:"type"`
	N    uint64          `json:"n"`
	Msg  *parley.Message `json:"msg"`
}
