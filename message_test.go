package parley_test

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-im/parley"
)

// fileID is a valid file id for the tests.
const fileID = "abcdefghijklmnopqrstuvwxya"

func TestValidFileID(t *testing.T) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for i := 0; i < 100; i++ {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		id := strings.ToLower(enc.EncodeToString(b))
		if !parley.ValidFileID(id) {
			t.Fatalf("ValidFileID(%q) = false for an encoded 128-bit id", id)
		}
	}
	for id, want := range map[string]bool{
		fileID: true,
		"":     false, fileID[:25]: false, fileID + "a": false,
		"abcdefghijklmnopqrstuvwxyb": false, // trailing bits set
		"ABCDEFGHIJKLMNOPQRSTUVWXYA": false, // upper case
		"abcdefghijklmnopqrstuvwx1a": false, // '1' is not in the alphabet
		"abcdefghijklmnopqrstuvwx/a": false,
	} {
		if got := parley.ValidFileID(id); got != want {
			t.Errorf("ValidFileID(%q): got %v, want %v", id, got, want)
		}
	}
}

func TestValidateMediaBodies(t *testing.T) {
	media := func(extra string) string {
		return `{"file":"` + fileID + `","size":1234` + extra + `}`
	}
	cases := []struct {
		name string
		kind parley.Kind
		body string
		code string
	}{
		{"image", parley.KindImage, media(`,"mime":"image/png","name":"cat.png","width":640,"height":480,"caption":"my cat"`), ""},
		{"image minimal", parley.KindImage, media(`,"mime":"image/jpeg"`), ""},
		{"image not image mime", parley.KindImage, media(`,"mime":"application/pdf"`), parley.EInvalid},
		{"image with duration", parley.KindImage, media(`,"mime":"image/png","duration":5`), parley.EInvalid},
		{"image too wide", parley.KindImage, media(`,"mime":"image/png","width":100001`), parley.EInvalid},
		{"image negative height", parley.KindImage, media(`,"mime":"image/png","height":-1`), parley.EInvalid},
		{"image fractional width", parley.KindImage, media(`,"mime":"image/png","width":1.5`), parley.EInvalid},
		{"file", parley.KindFile, media(`,"mime":"application/pdf","name":"report.pdf"`), ""},
		{"file without name", parley.KindFile, media(`,"mime":"application/pdf"`), parley.EInvalid},
		{"file with width", parley.KindFile, media(`,"mime":"application/pdf","name":"a","width":3`), parley.EInvalid},
		{"audio", parley.KindAudio, media(`,"mime":"audio/mp4","duration":61000`), ""},
		{"audio with height", parley.KindAudio, media(`,"mime":"audio/mp4","height":3`), parley.EInvalid},
		{"audio video mime", parley.KindAudio, media(`,"mime":"video/mp4"`), parley.EInvalid},
		{"video", parley.KindVideo, media(`,"mime":"video/mp4","width":1920,"height":1080,"duration":10000`), ""},
		{"video too long", parley.KindVideo, media(`,"mime":"video/mp4","duration":604800001`), parley.EInvalid},
		{"missing file", parley.KindImage, `{"size":1,"mime":"image/png"}`, parley.EInvalid},
		{"bad file id", parley.KindImage, `{"file":"../../etc/passwd","size":1,"mime":"image/png"}`, parley.EInvalid},
		{"missing size", parley.KindImage, `{"file":"` + fileID + `","mime":"image/png"}`, parley.EInvalid},
		{"zero size", parley.KindImage, `{"file":"` + fileID + `","size":0,"mime":"image/png"}`, parley.EInvalid},
		{"size too big", parley.KindImage, `{"file":"` + fileID + `","size":1099511627777,"mime":"image/png"}`, parley.EInvalid},
		{"size overflow", parley.KindImage, `{"file":"` + fileID + `","size":1e30,"mime":"image/png"}`, parley.EInvalid},
		{"missing mime", parley.KindImage, media(``), parley.EInvalid},
		{"mime with params", parley.KindFile, media(`,"mime":"text/plain; charset=utf-8","name":"a.txt"`), parley.EInvalid},
		{"mime upper case", parley.KindImage, media(`,"mime":"image/PNG"`), parley.EInvalid},
		{"mime not a type", parley.KindFile, media(`,"mime":"pdf","name":"a"`), parley.EInvalid},
		{"unknown member", parley.KindImage, media(`,"mime":"image/png","url":"http://x"`), parley.EInvalid},
		{"not an object", parley.KindImage, `["` + fileID + `"]`, parley.EInvalid},
		{"two values", parley.KindImage, media(`,"mime":"image/png"`) + `{}`, parley.EInvalid},
		{"name with slash", parley.KindFile, media(`,"mime":"application/pdf","name":"a/b.pdf"`), parley.EInvalid},
		{"name with NUL", parley.KindFile, media(`,"mime":"application/pdf","name":"a\u0000.pdf"`), parley.EInvalid},
		{"name with RLO", parley.KindFile, media(`,"mime":"application/pdf","name":"invoice\u202efdp.exe"`), parley.EInvalid},
		{"name dot dot", parley.KindFile, media(`,"mime":"application/pdf","name":".."`), parley.EInvalid},
		{"name emoji ZWJ", parley.KindFile, media(`,"mime":"application/pdf","name":"👩‍💻 notes.pdf"`), ""},
		{"name too long", parley.KindFile, media(`,"mime":"application/pdf","name":"` + strings.Repeat("n", 256) + `"`), parley.ETooLarge},
		{"caption too long", parley.KindImage, media(`,"mime":"image/png","caption":"` + strings.Repeat("c", parley.MaxTextLen+1) + `"`), parley.ETooLarge},
		{"location", parley.KindLocation, `{"lat":48.8584,"lng":2.2945,"name":"Tour Eiffel","address":"Champ de Mars, Paris"}`, ""},
		{"location zero", parley.KindLocation, `{"lat":0,"lng":0}`, ""},
		{"location edges", parley.KindLocation, `{"lat":-90,"lng":180}`, ""},
		{"location missing lng", parley.KindLocation, `{"lat":1}`, parley.EInvalid},
		{"location lat range", parley.KindLocation, `{"lat":90.0001,"lng":0}`, parley.EInvalid},
		{"location lng range", parley.KindLocation, `{"lat":0,"lng":-180.5}`, parley.EInvalid},
		{"location string lat", parley.KindLocation, `{"lat":"1","lng":2}`, parley.EInvalid},
		{"location huge", parley.KindLocation, `{"lat":1e400,"lng":2}`, parley.EInvalid},
		{"location unknown member", parley.KindLocation, `{"lat":1,"lng":2,"zoom":3}`, parley.EInvalid},
		{"location name too long", parley.KindLocation, `{"lat":1,"lng":2,"name":"` + strings.Repeat("n", 257) + `"}`, parley.ETooLarge},
		{"location address too long", parley.KindLocation, `{"lat":1,"lng":2,"address":"` + strings.Repeat("n", 1025) + `"}`, parley.ETooLarge},
		{"location control char", parley.KindLocation, `{"lat":1,"lng":2,"name":"a\nb"}`, parley.EInvalid},
		{"custom nested", parley.KindCustom, `{"card":{"title":"x","items":[1,2]}}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := parley.ValidateBody(c.kind, json.RawMessage(c.body), true)
			if got := parley.ErrorCode(err); got != c.code {
				t.Fatalf("got %q (%v), want %q", got, err, c.code)
			}
		})
	}
}

func TestValidateMediaType(t *testing.T) {
	for s, ok := range map[string]bool{
		"image/png": true, "application/vnd.openxmlformats-officedocument.wordprocessingml.document": true,
		"": false, "image": false, "image/": false, "Image/png": false, "text/plain; charset=utf-8": false,
		"image/png ": false, strings.Repeat("a", 120) + "/" + strings.Repeat("b", 10): false,
	} {
		if err := parley.ValidateMediaType(s); (err == nil) != ok {
			t.Errorf("ValidateMediaType(%q): got %v, want ok=%v", s, err, ok)
		}
	}
}

// FuzzValidateBody checks that no body of any kind panics the validators,
// that an accepted body is a JSON object within the limits, and that a
// refusal always carries a client-facing code.
func FuzzValidateBody(f *testing.F) {
	kinds := []parley.Kind{parley.KindText, parley.KindImage, parley.KindFile, parley.KindAudio,
		parley.KindVideo, parley.KindLocation, parley.KindCustom, parley.KindSystem}
	for _, s := range []string{
		`{"text":"hi"}`,
		`{"file":"` + fileID + `","size":1,"mime":"image/png","width":1,"height":1}`,
		`{"file":"` + fileID + `","size":9,"mime":"application/pdf","name":"a.pdf","caption":"x"}`,
		`{"file":"` + fileID + `","size":9,"mime":"audio/ogg","duration":1000}`,
		`{"lat":1.5,"lng":-2.25,"name":"n","address":"a"}`,
		`{"lat":null,"lng":0}`, `{}`, `[]`, `null`, `{"a":1} {}`, "{\"name\":\"\xff\"}",
	} {
		for i := range kinds {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, body string) {
		kind := kinds[int(k)%len(kinds)]
		err := parley.ValidateBody(kind, json.RawMessage(body), k >= 128)
		if err == nil {
			if len(body) > parley.MaxBodyLen || !json.Valid([]byte(body)) || !strings.HasPrefix(strings.TrimLeft(body, " \t\r\n"), "{") {
				t.Fatalf("%s body %q accepted", kind, body)
			}
			return
		}
		switch code := parley.ErrorCode(err); code {
		case parley.EInvalid, parley.ETooLarge, parley.EForbidden:
		default:
			t.Fatalf("%s body %q: code %q (%v), want invalid, too_large or forbidden", kind, body, code, err)
		}
	})
}
