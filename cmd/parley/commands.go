package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/server"
)

func newRootCmd(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "parley",
		Short:         "Parley: an instant-messaging platform in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	addFlags(root.PersistentFlags())

	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run a node (embedded default: SQLite in ./parley-data, everything in one process)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			return serveNode(ctx, cfg, stdout)
		},
	}
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
				return err
			}
			lines, err := server.Migrate(ctx, cfg.server())
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintln(stdout, l)
			}
			where := server.DBPath(cfg.Data)
			if cfg.Postgres != "" {
				where = "PostgreSQL"
			}
			fmt.Fprintln(stdout, "database is up to date:", where)
			return nil
		},
	}
	app := &cobra.Command{Use: "app", Short: "Manage apps (business lines)"}
	var appName string
	appCreate := &cobra.Command{
		Use:   "create ID",
		Short: "Create an app and print its API key (shown once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(ctx, cmd, getenv, func(st parley.Store) error {
				name := appName
				if name == "" {
					name = args[0]
				}
				key, err := server.CreateApp(ctx, st, args[0], name, time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, key)
				return nil
			})
		},
	}
	appCreate.Flags().StringVar(&appName, "name", "", "display name of the app")
	app.AddCommand(appCreate)

	var tokApp, tokUser, tokDevice string
	var tokTTL time.Duration
	token := &cobra.Command{
		Use:   "token",
		Short: "Print a client token for a user of an app (for trying things out)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(ctx, cmd, getenv, func(st parley.Store) error {
				a, err := st.App(ctx, tokApp)
				if err != nil {
					return err
				}
				if _, err := st.User(ctx, tokApp, tokUser); err != nil {
					return fmt.Errorf("user %q of app %q: %w", tokUser, tokApp, err)
				}
				revoked, err := st.RevokedBefore(ctx, tokApp, tokUser, tokDevice)
				if err != nil {
					return err
				}
				now := auth.IssueTime(time.Now(), revoked)
				tok, err := auth.IssueToken(a, auth.Claims{AppID: tokApp, UserID: tokUser, Device: tokDevice, IssuedAt: now, ExpiresAt: now.Add(tokTTL)})
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, tok)
				return nil
			})
		},
	}
	token.Flags().StringVar(&tokApp, "app", server.DemoAppID, "app id")
	token.Flags().StringVar(&tokUser, "user", "", "user id (the user must exist)")
	token.Flags().StringVar(&tokDevice, "device", "", "bind the token to this device id")
	token.Flags().DurationVar(&tokTTL, "ttl", 24*time.Hour, "token lifetime")
	_ = token.MarkFlagRequired("user")

	version := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(stdout, "parley", server.Version) },
	}
	root.AddCommand(serve, migrate, app, token, version, newBenchCmd(ctx, stdout, stderr))
	root.AddCommand(newMoveCmd(ctx, getenv, stdout))
	return root
}

// withStore opens the configured data dir's store for an admin command.
func withStore(ctx context.Context, cmd *cobra.Command, getenv func(string) string, f func(parley.Store) error) error {
	cfg, err := loadConfig(cmd.Flags(), getenv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, cfg.server())
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}

// serveNode runs a node until ctx ends (SIGINT/SIGTERM), then drains it.
func serveNode(ctx context.Context, cfg config, stdout io.Writer) error {
	sc := cfg.server()
	sc.Logger = cfg.logger()
	sc.Out = stdout
	routeNbioLogs(sc.Logger)
	s, err := server.Start(ctx, sc)
	if err != nil {
		return err
	}
	if cfg.DebugAddr != "" {
		// Started after the node, whose metrics it serves, and stopped
		// after it (deferred), so that the drain can be watched.
		stop, _, err := serveDebug(cfg.DebugAddr, s.MetricsHandler(), sc.Logger)
		if err != nil {
			_ = closeNode(s)
			return fmt.Errorf("debug listener: %w", err)
		}
		defer stop()
	}
	fmt.Fprintf(stdout, "Parley %s serving on %s (data in %s)\n", server.Version, s.URL(), cfg.Data)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-s.Err():
	}
	if err := closeNode(s); err != nil && serveErr == nil {
		serveErr = err
	}
	sc.Logger.Info("parley stopped", "err", serveErr)
	return serveErr
}

// closeNode drains a node, giving it 15 s.
func closeNode(s *server.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return s.Close(ctx)
}
