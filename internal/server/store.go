package server

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/notify"
	"github.com/parley-im/parley/internal/postgres"
	"github.com/parley-im/parley/internal/sqlite"
)

// nodeStore is everything a node keeps in its database. The embedded
// default keeps it in SQLite (one node); with Config.Postgres, in
// PostgreSQL (any number of nodes). Both pass the same contract suites.
type nodeStore interface {
	parley.Store
	files.Catalog
	consult.Store
	notify.Store
	events.Outbox
	events.WebhookStore
	EventLog() events.EventLog
}

// The two stores, their EventLog methods returning the interface.
type (
	sqliteStore   struct{ *sqlite.DB }
	postgresStore struct{ *postgres.Store }
)

func (s sqliteStore) EventLog() events.EventLog   { return s.DB.EventLog() }
func (s postgresStore) EventLog() events.EventLog { return s.Store.EventLog() }

// OpenStore opens (and migrates) the store cfg names: PostgreSQL at
// cfg.Postgres, with cfg.PostgresRead as the read replica of history and
// search, or else the SQLite file in cfg.DataDir.
func OpenStore(ctx context.Context, cfg Config) (parley.Store, error) { return openStore(ctx, cfg) }

func openStore(ctx context.Context, cfg Config) (nodeStore, error) {
	if cfg.Postgres == "" {
		db, err := sqlite.Open(ctx, DBPath(cfg.DataDir))
		if err != nil {
			return nil, err
		}
		return sqliteStore{db}, nil
	}
	var opts []postgres.Option
	if cfg.PostgresRead != "" {
		opts = append(opts, postgres.WithReplica(cfg.PostgresRead))
	}
	st, err := postgres.Open(ctx, cfg.Postgres, opts...)
	if err != nil {
		return nil, err
	}
	return postgresStore{st}, nil
}

// Migrate applies the migrations of the store cfg names and returns one
// line per migration applied.
func Migrate(ctx context.Context, cfg Config) ([]string, error) {
	if cfg.Postgres == "" {
		return sqlite.Migrate(ctx, DBPath(cfg.DataDir))
	}
	return postgres.Migrate(ctx, cfg.Postgres)
}
