package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/parley-im/parley/internal/pgmove"
	"github.com/parley-im/parley/internal/server"
)

// newMoveCmd is parley migrate-to-postgres: the one-way move of a
// stopped node's SQLite data (--data) into an empty PostgreSQL database
// (--postgres), verified before it commits (internal/pgmove).
func newMoveCmd(ctx context.Context, getenv func(string) string, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate-to-postgres",
		Short: "Move a stopped node's SQLite data (--data) into an empty PostgreSQL database (--postgres)",
		Long: `Copies everything in the SQLite database of --data into the empty PostgreSQL
database named by --postgres, in one transaction, and verifies it (row counts
per table, a checksum of every conversation's messages) before committing:
on any failure PostgreSQL is left empty. The node must be stopped; the SQLite
file is locked for the duration and left as it was. Devices carry on after
the move: seqs stay, and versions continue above every one handed out.
Uploaded files stay in --data/files: run the nodes with the same --data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			if cfg.Postgres == "" {
				return errors.New("--postgres is required: the PostgreSQL database to move into")
			}
			sum, err := pgmove.Move(ctx, server.DBPath(cfg.Data), cfg.Postgres)
			if err != nil {
				return err
			}
			printMove(stdout, server.DBPath(cfg.Data), sum)
			return nil
		},
	}
}

// printMove writes the summary of a move.
func printMove(w io.Writer, from string, sum *pgmove.Summary) {
	fmt.Fprintf(w, "moved %s into PostgreSQL in %s\n", from, sum.Took.Round(1e6))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, t := range sum.Tables {
		fmt.Fprintf(tw, "%d\t  %s\n", t.Rows, t.Name)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "verified: row counts of every table, messages of %d conversations (count, last seq, ids)\n", sum.Conversations)
	fmt.Fprintf(w, "%d version counters set; change versions continue above %d\n", sum.Counters, sum.ChangeVer)
}
