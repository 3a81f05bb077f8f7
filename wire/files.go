package wire

import "time"

// FileInfo is the answer to an upload (POST /v1/files): the stored
// file's record as clients see it (docs/protocol.md §11.1). Send a message
// of kind image, file, audio or video naming ID to share it.
type FileInfo struct {
	ID        string    `json:"id"`
	Conv      string    `json:"conv"`
	Uploader  string    `json:"uploader"`
	Name      string    `json:"name"`
	Size      int64     `json:"size"`
	MIME      string    `json:"mime"`
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
}
