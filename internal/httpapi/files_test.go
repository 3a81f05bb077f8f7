package httpapi

import (
	"mime"
	"testing"

	"pgregory.net/rapid"

	"github.com/parley-im/parley"
)

func TestContentDisposition(t *testing.T) {
	for name, want := range map[string]string{
		"cat.png":          `attachment; filename="cat.png"`,
		`a "quoted" b.txt`: `attachment; filename="a _quoted_ b.txt"; filename*=UTF-8''a%20%22quoted%22%20b.txt`,
		"résumé.pdf":       `attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`,
		`back\slash;x=1`:   `attachment; filename="back_slash;x=1"; filename*=UTF-8''back%5Cslash%3Bx%3D1`,
	} {
		if got := contentDisposition(name); got != want {
			t.Errorf("contentDisposition(%q):\n got %s\nwant %s", name, got, want)
		}
	}
}

// TestContentDispositionRoundTrip: for every valid file name, a standard
// parser reads the exact name back from the header.
func TestContentDispositionRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.StringN(1, 60, 255).Draw(t, "name")
		if parley.ValidateFileName(name) != nil {
			t.Skip("not a valid file name")
		}
		d, params, err := mime.ParseMediaType(contentDisposition(name))
		if err != nil || d != "attachment" || params["filename"] != name {
			t.Fatalf("parsed %q, %q, %v; want attachment and %q", d, params, err, name)
		}
	})
}
