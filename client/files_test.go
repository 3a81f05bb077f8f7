package client_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/parley-im/parley"
)

// TestUploadDownload: alice uploads a PNG into her conversation with bob,
// bob downloads the same bytes; carol, not a member, is refused both.
func TestUploadDownload(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob", "carol")
	alice, _ := e.dial("alice", "phone")
	bob, _ := e.dial("bob", "laptop")
	carol, _ := e.dial("carol", "tablet")
	ctx := ctxT(t)
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 300)...)
	conv := parley.DirectConvID("alice", "bob")

	fi, err := alice.Upload(ctx, conv, "cat.png", "image/png", bytes.NewReader(png))
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if fi.Conv != conv || fi.Uploader != "alice" || fi.Name != "cat.png" || fi.Size != int64(len(png)) || fi.MIME != "image/png" {
		t.Fatalf("upload answered %+v", fi)
	}
	body, mime, err := bob.Download(ctx, fi.ID)
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(got, png) || mime != "image/png" {
		t.Fatalf("downloaded %d bytes of %s (%v), want the %d uploaded", len(got), mime, err, len(png))
	}
	if _, _, err := carol.Download(ctx, fi.ID); parley.ErrorCode(err) != parley.EForbidden {
		t.Fatalf("carol's download: %v, want forbidden", err)
	}
	if _, err := carol.Upload(ctx, conv, "x.png", "", bytes.NewReader(png)); parley.ErrorCode(err) != parley.EForbidden {
		t.Fatalf("carol's upload: %v, want forbidden", err)
	}
	if _, _, err := bob.Download(ctx, "nope"); parley.ErrorCode(err) != parley.EInvalid {
		t.Fatalf("malformed id: %v, want invalid", err)
	}
	// The file may be shared in its own conversation, not in another.
	img := []byte(fmt.Sprintf(`{"file":%q,"size":%d,"mime":"image/png"}`, fi.ID, fi.Size))
	if _, err := alice.Send(ctx, "bob", parley.KindImage, img); err != nil {
		t.Fatalf("image message in the file's conversation: %v", err)
	}
	if _, err := alice.Send(ctx, "carol", parley.KindImage, img); parley.ErrorCode(err) != parley.EInvalid {
		t.Fatalf("image message naming a file of another conversation: %v, want invalid", err)
	}
	unknown := []byte(`{"file":"aaaaaaaaaaaaaaaaaaaaaaaaaa","size":1,"mime":"image/png"}`)
	if _, err := alice.Send(ctx, "bob", parley.KindImage, unknown); parley.ErrorCode(err) != parley.EInvalid {
		t.Fatalf("image message naming no file: %v, want invalid", err)
	}
}
