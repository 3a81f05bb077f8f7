package pgmove

import (
	"context"
	"maps"
	"slices"
)

// Statements that set PostgreSQL's version counters (table counters;
// decision record 0005 and internal/postgres's versions.go name them)
// from the versions moved. A counter holds the last version handed out;
// the next transaction takes the one above it.
const (
	// SQLite hands out change versions from one counter for every app
	// (change_ver, $1), so each app's counter starts above it: above
	// every version a device of any app may have synced. The rows'
	// own maxima are below it unless change_ver was damaged.
	setChanges = `INSERT INTO counters (app_id, name, ver)
		SELECT a, 'changes', GREATEST($1::bigint,
			COALESCE((SELECT max(ver) FROM members WHERE app_id = a), 0),
			COALESCE((SELECT max(ver) FROM conversations WHERE app_id = a), 0))
		FROM (SELECT id FROM apps UNION SELECT app_id FROM conversations UNION SELECT app_id FROM users) AS x(a)`
	// A profile version is the app's highest users.ver plus one, and a
	// contact version the owner's highest contacts.ver plus one, so the
	// highest stored is the last one handed out.
	setProfiles = `INSERT INTO counters (app_id, name, ver)
		SELECT app_id, 'profiles', max(ver) FROM users GROUP BY app_id`
	setContacts = `INSERT INTO counters (app_id, name, ver)
		SELECT app_id, 'contacts/' || user_id, max(ver) FROM contacts GROUP BY app_id, user_id`
	// The event log's positions are gapless per app from 1.
	setEvents = `INSERT INTO counters (app_id, name, ver)
		SELECT app_id, 'events', max(pos) FROM events GROUP BY app_id`
)

// setCounters sets every version counter (see the package comment).
func (m *mover) setCounters(ctx context.Context) error {
	var err error
	if m.sum.ChangeVer, err = m.src.int(ctx, `SELECT ver FROM change_ver WHERE id = 1`); err != nil {
		return err
	}
	stmts := []string{setProfiles, setContacts}
	if _, ok := m.pg["events"]; ok {
		stmts = append(stmts, setEvents)
	}
	ct, err := m.tx.Exec(ctx, setChanges, m.sum.ChangeVer)
	if err != nil {
		return err
	}
	m.sum.Counters = ct.RowsAffected()
	for _, q := range stmts {
		ct, err := m.tx.Exec(ctx, q)
		if err != nil {
			return err
		}
		m.sum.Counters += ct.RowsAffected()
	}
	return nil
}

// setIdentities moves each identity column's sequence past the highest
// id now in its table, and past the highest id SQLite ever gave the
// table (sqlite_sequence, for AUTOINCREMENT tables whose newest rows
// were deleted), so that new rows never reuse an id.
func (m *mover) setIdentities(ctx context.Context) error {
	_, hasSeq := m.lite["sqlite_sequence"]
	for _, t := range slices.Sorted(maps.Keys(m.pg)) {
		for _, c := range m.pg[t] {
			if !c.identity {
				continue
			}
			var top int64
			if err := m.tx.QueryRow(ctx, `SELECT COALESCE(max(`+quote(c.name)+`), 0) FROM `+quote(t)).Scan(&top); err != nil {
				return err
			}
			if hasSeq {
				seq, err := m.src.int(ctx, `SELECT max(seq) FROM sqlite_sequence WHERE name = ?`, t)
				if err != nil {
					return err
				}
				top = max(top, seq)
			}
			if top == 0 {
				continue // the sequence starts at 1 anyway
			}
			if _, err := m.tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), $3)`,
				quote(t), c.name, top); err != nil {
				return err
			}
		}
	}
	return nil
}
