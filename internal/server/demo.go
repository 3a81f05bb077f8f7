package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/auth"
)

// DemoAppID is the app created on first start.
const DemoAppID = "demo"

// DemoKeyFile is the file in the data dir that keeps the demo app's API
// key (mode 0600).
const DemoKeyFile = "demo-app.key"

// CreateApp creates an app with a fresh API key and token secret and
// returns the key, which is not stored anywhere (only its hash is).
func CreateApp(ctx context.Context, st parley.AppStore, id, name string, now time.Time) (string, error) {
	if !parley.ValidID(id) {
		return "", parley.Errorf(parley.EInvalid, "app id must be 1-%d characters of [A-Za-z0-9_.@-]", parley.MaxIDLen)
	}
	key, hash, err := auth.NewAPIKey(id)
	if err != nil {
		return "", err
	}
	secret, err := auth.NewTokenSecret()
	if err != nil {
		return "", err
	}
	app := &parley.App{ID: id, Name: name, KeyHash: hash, TokenSecret: secret, CreatedAt: now}
	if err := st.CreateApp(ctx, app); err != nil {
		return "", err
	}
	return key, nil
}

// ensureDemoApp creates the demo app on first start, prints its key once
// and keeps it in the data dir.
func ensureDemoApp(ctx context.Context, st parley.AppStore, dataDir string, out io.Writer, now func() time.Time) error {
	_, err := st.App(ctx, DemoAppID)
	if err == nil {
		return nil
	}
	if parley.ErrorCode(err) != parley.ENotFound {
		return err
	}
	key, err := CreateApp(ctx, st, DemoAppID, "Demo app", now())
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, DemoKeyFile)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("writing the demo key: %w", err)
	}
	fmt.Fprintf(out, "Created app %q. Its API key (shown once, also kept in %s):\n\n    %s\n\n", DemoAppID, path, key)
	return nil
}
