package postgres

import "github.com/parley-im/parley"

// SearchDocument returns the search document Append and ReviseMessage
// store for a message of this kind and body: a tsvector literal, cast
// with ::tsvector when written, or "" (the empty tsvector) for a message
// with no searchable text. It is for tools that write messages without
// Append (internal/pgmove), so that their messages are found exactly as
// appended ones are.
func SearchDocument(kind parley.Kind, body []byte) string { return searchDoc(kind, body) }
