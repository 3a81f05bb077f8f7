package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Counter names (table counters; decision record 0005). Every version a
// reader pages by comes from one of them.
const (
	// counterChanges hands out an app's change versions:
	// members.ver and conversations.ver, which Changes merges.
	counterChanges = "changes"
	// counterProfiles hands out an app's profile versions (users.ver).
	counterProfiles = "profiles"
)

// contactsCounter names the counter of userID's contact versions.
func contactsCounter(userID string) string { return "contacts/" + userID }

// bumpCounter adds n to a counter, creating it at n if it does not exist,
// and returns its new value: the caller owns the versions last-n+1 ..
// last. The counter's row stays locked until tx ends, so a transaction
// that took later versions commits after this one: no reader can see a
// version while a smaller one may still commit. Because of that lock,
// it must be the last lock a transaction takes (every row it writes
// afterwards must be locked already), or two transactions could each
// hold what the other waits for.
const bumpCounter = `INSERT INTO counters AS k (app_id, name, ver) VALUES ($1, $2, $3)
	ON CONFLICT (app_id, name) DO UPDATE SET ver = k.ver + excluded.ver
	RETURNING ver`

// takeVers runs bumpCounter in tx and returns the last of the n versions
// it took.
func takeVers(ctx context.Context, tx pgx.Tx, appID, name string, n int) (uint64, error) {
	var last int64
	err := tx.QueryRow(ctx, bumpCounter, appID, name, n).Scan(&last)
	return uint64(last), err
}
