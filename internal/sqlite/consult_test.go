package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult/consulttest"
)

func TestConsultStore(t *testing.T) {
	consulttest.RunStoreTests(t, func(t *testing.T) consulttest.Harness {
		db := mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
		return consulttest.Harness{Store: db, AddUsers: func(ctx context.Context, appID string, ids ...string) error {
			users := make([]parley.User, len(ids))
			for i, id := range ids {
				users[i] = parley.User{AppID: appID, ID: id, Role: parley.RoleUser}
			}
			return db.UpsertUsers(ctx, appID, users)
		}}
	})
}
