package wire

import "encoding/json"

// PeekID returns the id of a client frame without validating the rest of
// it, or "" if it has none or is not a JSON object. A server refusing a
// frame before decoding it (a session with too many frames waiting) uses
// it to answer the request, so that the client can match the refusal and
// retry instead of waiting for an answer that never comes. It costs one
// pass over the frame.
func PeekID(frame []byte) string {
	var f struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(frame, &f) != nil || len(f.ID) > MaxRequestIDLen {
		return ""
	}
	return f.ID
}
