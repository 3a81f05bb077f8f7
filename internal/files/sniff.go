package files

import (
	"bytes"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/parley-im/parley"
)

// SniffLen is how many leading bytes of a file Sniff looks at.
const SniffLen = 512

// DefaultTypes is the allow-list of file types when the configuration
// gives none: the images, audio, video and documents people send in
// chats. Scriptable types (HTML, SVG, XML, JavaScript) and executables are
// not on it, nor is application/octet-stream (content nobody recognised).
func DefaultTypes() []string {
	return []string{
		"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/heic", "image/heif", "image/avif",
		"audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/wav", "audio/webm", "audio/flac", "audio/amr",
		"video/mp4", "video/webm", "video/quicktime", "video/3gpp", "video/ogg",
		"application/pdf", "text/plain", "text/csv", "text/markdown", "application/json",
		"application/zip", "application/gzip", "application/x-7z-compressed", "application/vnd.rar",
		"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
		"application/vnd.oasis.opendocument.presentation", "application/epub+zip",
	}
}

// Sniff returns the media type of content that starts with head (at most
// SniffLen bytes are looked at), without parameters. It knows what
// net/http.DetectContentType knows, plus the ISO media family (HEIC,
// HEIF, AVIF, QuickTime, M4A, 3GP), raw MP3 and AAC streams, FLAC, AMR,
// 7-Zip and the OLE container of old Office files (application/x-cfb).
// Content it does not recognise is application/octet-stream.
func Sniff(head []byte) string {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	if t := sniffExtra(head); t != "" {
		return t
	}
	t, _, _ := strings.Cut(http.DetectContentType(head), ";")
	return canonical(t)
}

// canonical maps DetectContentType's and browsers' names for a type to
// the name Parley stores.
func canonical(t string) string {
	switch t {
	case "audio/wave", "audio/x-wav":
		return "audio/wav"
	case "application/x-gzip":
		return "application/gzip"
	case "application/x-rar-compressed":
		return "application/vnd.rar"
	case "application/x-zip-compressed":
		return "application/zip"
	case "image/jpg", "image/pjpeg":
		return "image/jpeg"
	case "image/x-png":
		return "image/png"
	case "audio/mp3":
		return "audio/mpeg"
	case "audio/x-m4a", "audio/m4a":
		return "audio/mp4"
	}
	return t
}

func sniffExtra(b []byte) string {
	switch {
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		switch string(b[8:12]) {
		case "heic", "heix", "hevc", "heim", "heis", "hevm", "hevs":
			return "image/heic"
		case "mif1", "msf1":
			return "image/heif"
		case "avif", "avis":
			return "image/avif"
		case "qt  ":
			return "video/quicktime"
		case "M4A ", "M4B ":
			return "audio/mp4"
		case "3gp4", "3gp5", "3gp6", "3g2a":
			return "video/3gpp"
		}
	case bytes.HasPrefix(b, []byte("fLaC")):
		return "audio/flac"
	case bytes.HasPrefix(b, []byte("#!AMR")):
		return "audio/amr"
	case bytes.HasPrefix(b, []byte("7z\xbc\xaf\x27\x1c")):
		return "application/x-7z-compressed"
	case bytes.HasPrefix(b, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
		return "application/x-cfb"
	case len(b) >= 2 && b[0] == 0xff && b[1]&0xe0 == 0xe0:
		// An MPEG audio frame header: 11 sync bits, then the version and
		// the layer. Layer bits 00 with the version's top bit set is an
		// ADTS (AAC) header; 01 is Layer III (MP3).
		switch layer := b[1] >> 1 & 3; {
		case layer == 0 && b[1]&0xf0 == 0xf0:
			return "audio/aac"
		case layer == 1:
			return "audio/mpeg"
		}
	}
	return ""
}

// refinements lists, for containers that several formats share, the
// types a declaration or a file name may narrow them to.
func refinements(container string) []string {
	switch container {
	case "application/zip":
		return []string{
			"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
			"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
			"application/vnd.openxmlformats-officedocument.presentationml.presentation",
			"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
			"application/vnd.oasis.opendocument.presentation", "application/epub+zip",
		}
	case "application/x-cfb":
		return []string{"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
	case "text/plain":
		return []string{"text/csv", "text/markdown", "application/json"}
	case "application/ogg":
		return []string{"audio/ogg", "video/ogg"}
	case "video/mp4":
		return []string{"audio/mp4"}
	case "video/webm":
		return []string{"audio/webm"}
	case "video/3gpp":
		return []string{"audio/3gpp"}
	}
	return nil
}

// byExtension gives the type a file name's extension suggests, for the
// containers above; it is consulted only to narrow a sniffed container.
func byExtension(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case ".odt":
		return "application/vnd.oasis.opendocument.text"
	case ".ods":
		return "application/vnd.oasis.opendocument.spreadsheet"
	case ".odp":
		return "application/vnd.oasis.opendocument.presentation"
	case ".epub":
		return "application/epub+zip"
	case ".doc":
		return "application/msword"
	case ".xls":
		return "application/vnd.ms-excel"
	case ".ppt":
		return "application/vnd.ms-powerpoint"
	case ".csv":
		return "text/csv"
	case ".md":
		return "text/markdown"
	case ".json":
		return "application/json"
	case ".ogg", ".oga", ".opus":
		return "audio/ogg"
	case ".ogv":
		return "video/ogg"
	case ".m4a":
		return "audio/mp4"
	case ".weba":
		return "audio/webm"
	case ".3ga":
		return "audio/3gpp"
	}
	return ""
}

// ResolveType decides the type a file is stored and served as, from its
// first bytes, the type the client declared (may be empty) and its name.
// The content decides: a declaration or the name's extension only narrows
// a container the content shows (a ZIP to a .docx). For images the
// declaration must agree with the content: an image declared as another
// type, or content declared as an image it is not, is EInvalid, as is a
// declared type that is not a media type.
func ResolveType(head []byte, declared, name string) (string, error) {
	sniffed := Sniff(head)
	decl := ""
	if declared != "" {
		mt, _, err := mime.ParseMediaType(declared)
		if err != nil || len(declared) > 255 {
			return "", parley.Errorf(parley.EInvalid, "the declared type is not a media type")
		}
		if mt = canonical(mt); mt != "application/octet-stream" {
			decl = mt
		}
	}
	if decl != "" && decl != sniffed && (strings.HasPrefix(decl, "image/") || strings.HasPrefix(sniffed, "image/")) {
		return "", parley.Errorf(parley.EInvalid, "the declared type %s does not match the content (%s)", decl, sniffed)
	}
	for _, hint := range []string{decl, byExtension(name)} {
		if hint != "" && slices.Contains(refinements(sniffed), hint) {
			return hint, nil
		}
	}
	if sniffed == "application/ogg" {
		return "audio/ogg", nil // Ogg files people send are mostly voice notes
	}
	return sniffed, nil
}
