package notify

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley"
)

// Preview renders a message for a notification: the text of a text
// message, the caption of media (or a bracketed word naming the kind and,
// for files, the file name), the place of a location, "[Message]" for
// custom and system messages without a "text" member. Whitespace runs
// become one space; the result is at most MaxPreviewRunes runes, with
// "…" when cut.
func Preview(m *parley.Message) string {
	var b struct {
		Text    string `json:"text"`
		Caption string `json:"caption"`
		Name    string `json:"name"`
		Address string `json:"address"`
	}
	_ = json.Unmarshal(m.Body, &b)
	var s string
	switch m.Kind {
	case parley.KindText:
		s = b.Text
	case parley.KindImage, parley.KindAudio, parley.KindVideo, parley.KindFile:
		s = "[" + map[parley.Kind]string{
			parley.KindImage: "Image", parley.KindAudio: "Audio", parley.KindVideo: "Video", parley.KindFile: "File",
		}[m.Kind] + "]"
		if m.Kind == parley.KindFile && b.Name != "" {
			s += " " + b.Name
		}
		if b.Caption != "" {
			s += " " + b.Caption
		}
	case parley.KindLocation:
		s = "[Location]"
		for _, part := range []string{b.Name, b.Address} {
			if part != "" {
				s += " " + part
			}
		}
	default:
		s = b.Text
		if s == "" {
			s = "[Message]"
		}
	}
	return clip(strings.Join(strings.Fields(s), " "), MaxPreviewRunes)
}

// clip cuts s to at most n runes, the last one "…" when it cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n - 1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}
