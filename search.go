package parley

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Limits of a message search.
const (
	MaxSearchLen       = 200 // characters (not bytes) of SearchQuery.Text
	DefaultSearchLimit = 20  // messages in a page when SearchQuery.Limit is 0
	MaxSearchLimit     = 100 // most messages in a page
)

// SearchQuery asks ConvStore.SearchMessages for a page of the messages of
// a user's conversations that match a text.
//
// Text matches as docs/protocol.md describes (package internal/textsearch
// implements it): case, width and invisible characters do not matter;
// every word must appear, the last one also as the start of a longer word
// ("meet" finds "meeting"); Chinese, Japanese and Korean text matches
// anywhere inside a run of those scripts ("北京" finds "我们明天去北京开会").
type SearchQuery struct {
	// Text is what to look for: 1 to MaxSearchLen characters of UTF-8,
	// with at least one letter or digit.
	Text string
	// ConvID, when not "", searches that conversation only.
	ConvID string
	// Before, when not 0, continues a search: it is the Next of the
	// previous page, and only older matches come back.
	Before uint64
	// Limit is the most messages returned: 0 means DefaultSearchLimit; at
	// most MaxSearchLimit.
	Limit int
}

// Validate checks q as it comes from a client or a business backend.
// Errors are EInvalid: a text that is empty, longer than MaxSearchLen
// characters or not UTF-8, a ConvID longer than MaxConvIDLen bytes, a
// Limit outside 0-MaxSearchLimit. (Whether the text has anything to
// search for is known only once it is analysed: SearchMessages says.)
func (q SearchQuery) Validate() error {
	switch {
	case q.Text == "" || !utf8.ValidString(q.Text) || utf8.RuneCountInString(q.Text) > MaxSearchLen:
		return Errorf(EInvalid, "q must be 1-%d characters of UTF-8", MaxSearchLen)
	case len(q.ConvID) > MaxConvIDLen:
		return Errorf(EInvalid, "conv longer than %d bytes", MaxConvIDLen)
	case q.Limit < 0 || q.Limit > MaxSearchLimit:
		return Errorf(EInvalid, "limit must be 0-%d", MaxSearchLimit)
	}
	return nil
}

// SearchResult is a page of search results.
type SearchResult struct {
	// Msgs are the matching messages, the most recently stored first.
	Msgs []Message
	// Next, when not 0, is where the next page starts: pass it as
	// SearchQuery.Before. It is 0 when this page is the last one. A page
	// may be short, even empty, while Next is not 0: a store bounds the
	// matches one call looks at.
	Next uint64
}

// searchFields are the top-level string fields of a message body that
// search reads, in the order their texts are joined.
var searchFields = [...]string{"text", "title", "name", "caption", "address"}

// SearchableText returns the text of a message that search indexes: the
// top-level string fields "text", "title", "name", "caption" and "address"
// of its body (one per line, in that order). A text message is found by
// its text, a file or other media by its name and caption, a location by
// its place name and address, a custom or system message by whichever of
// those fields the business line gives it. A body that is not a JSON
// object, or holds none of the fields, has no searchable text;
// SearchableText never fails.
//
// Recalls and edits have none: an edit rewrites the stored message it
// revises, which is found by its new text. Every other kind is read the
// same way.
func SearchableText(kind Kind, body []byte) string {
	if kind == KindEdit || kind == KindRecall {
		// A revision's text is found through the message it revises,
		// whose stored body the edit rewrites.
		return ""
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return ""
	}
	var b strings.Builder
	for _, name := range searchFields {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return b.String()
}
