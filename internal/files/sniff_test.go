package files_test

import (
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/files"
)

// Leading bytes of common formats.
var (
	pngHead  = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
	jpegHead = "\xff\xd8\xff\xe0\x00\x10JFIF\x00"
	gifHead  = "GIF89a\x01\x00\x01\x00"
	webpHead = "RIFF\x24\x00\x00\x00WEBPVP8 "
	pdfHead  = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
	zipHead  = "PK\x03\x04\x14\x00\x06\x00"
	cfbHead  = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00"
	oggHead  = "OggS\x00\x02\x00\x00\x00\x00"
	exeHead  = "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
)

func ftyp(brand string) string { return "\x00\x00\x00\x18ftyp" + brand + "\x00\x00\x00\x00mp42isom" }

func TestSniff(t *testing.T) {
	for head, want := range map[string]string{
		pngHead: "image/png", jpegHead: "image/jpeg", gifHead: "image/gif", webpHead: "image/webp",
		pdfHead: "application/pdf", zipHead: "application/zip", cfbHead: "application/x-cfb",
		oggHead: "application/ogg", exeHead: "application/octet-stream",
		ftyp("heic"): "image/heic", ftyp("mif1"): "image/heif", ftyp("avif"): "image/avif",
		ftyp("qt  "): "video/quicktime", ftyp("M4A "): "audio/mp4", ftyp("3gp5"): "video/3gpp",
		ftyp("isom"):                   "video/mp4",
		"ID3\x04\x00\x00\x00\x00":      "audio/mpeg",
		"\xff\xfb\x90\x64\x00":         "audio/mpeg",
		"\xff\xf1\x50\x80\x00":         "audio/aac",
		"fLaC\x00\x00\x00\x22":         "audio/flac",
		"#!AMR\n":                      "audio/amr",
		"RIFF\x24\x00\x00\x00WAVEfmt ": "audio/wav",
		"\x1a\x45\xdf\xa3\x01\x00":     "video/webm",
		"7z\xbc\xaf\x27\x1c\x00\x04":   "application/x-7z-compressed",
		"\x1f\x8b\x08\x00":             "application/gzip",
		"hello, world\n":               "text/plain",
		"<!DOCTYPE html><html>":        "text/html",
		"<?xml version=\"1.0\"?><svg>": "text/xml",
		"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>": "text/plain", // served as text, never rendered
	} {
		if got := files.Sniff([]byte(head)); got != want {
			t.Errorf("Sniff(%q): got %q, want %q", head, got, want)
		}
	}
}

func TestResolveType(t *testing.T) {
	cases := []struct {
		name, head, declared, file string
		want, code                 string
	}{
		{"png undeclared", pngHead, "", "a.png", "image/png", ""},
		{"png declared", pngHead, "image/png", "a.png", "image/png", ""},
		{"png declared with alias", pngHead, "image/x-png", "", "image/png", ""},
		{"jpeg as image/jpg", jpegHead, "image/jpg", "", "image/jpeg", ""},
		{"png declared gif", pngHead, "image/gif", "a.gif", "", parley.EInvalid},
		{"pdf declared png", pdfHead, "image/png", "a.png", "", parley.EInvalid},
		{"png declared pdf", pngHead, "application/pdf", "a.pdf", "", parley.EInvalid},
		{"png declared octet-stream", pngHead, "application/octet-stream", "a", "image/png", ""},
		{"declared not a type", pngHead, "png please", "", "", parley.EInvalid},
		{"docx by declaration", zipHead, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "x", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ""},
		{"docx by name", zipHead, "", "Report.DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ""},
		{"zip declared as pdf stays zip", zipHead, "application/pdf", "a.pdf", "application/zip", ""},
		{"zip declared html stays zip", zipHead, "text/html", "a.html", "application/zip", ""},
		{"doc by name", cfbHead, "", "old.doc", "application/msword", ""},
		{"csv by name", "a,b\n1,2\n", "", "t.csv", "text/csv", ""},
		{"text declared html stays text", "hello", "text/html", "x.html", "text/plain", ""},
		{"m4a from mp4", ftyp("isom"), "audio/mp4", "v.m4a", "audio/mp4", ""},
		{"ogg voice note", oggHead, "", "v", "audio/ogg", ""},
		{"ogg video", oggHead, "video/ogg", "v.ogv", "video/ogg", ""},
		{"svg declared as svg", "<svg xmlns=\"http://www.w3.org/2000/svg\">", "image/svg+xml", "a.svg", "", parley.EInvalid},
		{"exe declared pdf stays octet-stream", exeHead, "application/pdf", "a.pdf", "application/octet-stream", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := files.ResolveType([]byte(c.head), c.declared, c.file)
			if code := parley.ErrorCode(err); got != c.want || code != c.code {
				t.Fatalf("got %q, %q (%v); want %q, %q", got, code, err, c.want, c.code)
			}
		})
	}
}

func TestDefaultTypesAreCanonical(t *testing.T) {
	for _, typ := range files.DefaultTypes() {
		if err := parley.ValidateMediaType(typ); err != nil {
			t.Errorf("%q: %v", typ, err)
		}
		for _, bad := range []string{"text/html", "text/xml", "application/xml", "image/svg+xml", "text/javascript", "application/javascript", "application/octet-stream", "application/x-msdownload"} {
			if typ == bad {
				t.Errorf("%q must not be allowed by default", typ)
			}
		}
	}
}

func TestNewIDIsAValidFileID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := files.NewID()
		if !parley.ValidFileID(id) || !files.ValidKey(id) || seen[id] {
			t.Fatalf("NewID: %q is invalid or repeated", id)
		}
		seen[id] = true
	}
}
