package chat

import (
	"context"
	"encoding/json"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/files"
)

// FileLookup finds uploaded files; the store implements it with the files
// catalog.
type FileLookup interface {
	// File returns the record of an app's file, ENotFound if there is none.
	File(ctx context.Context, appID, id string) (*files.File, error)
}

// checkFile refuses a media message whose file was not uploaded into the
// conversation it is sent to: its members could not download it (a
// download checks the file's own conversation), and a client could
// otherwise pass off another conversation's file as its own. Errors:
// EInvalid.
func (s *Service) checkFile(ctx context.Context, appID, convID string, kind parley.Kind, body json.RawMessage) error {
	switch kind {
	case parley.KindImage, parley.KindFile, parley.KindAudio, parley.KindVideo:
	default:
		return nil
	}
	if s.cfg.Files == nil {
		return nil
	}
	var b struct {
		File string `json:"file"`
	}
	if err := json.Unmarshal(body, &b); err != nil { // validated already; cannot fail
		return parley.Errorf(parley.EInvalid, "undecodable body")
	}
	f, err := s.cfg.Files.File(ctx, appID, b.File)
	switch {
	case parley.ErrorCode(err) == parley.ENotFound:
		return parley.Errorf(parley.EInvalid, "file %q not found", b.File)
	case err != nil:
		return err
	case f.ConvID != convID:
		return parley.Errorf(parley.EInvalid, "file %q was uploaded into another conversation", b.File)
	}
	return nil
}
