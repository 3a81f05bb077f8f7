// Command parley runs and administers a Parley instant-messaging node.
//
//	parley serve                  run a node (embedded default: SQLite in ./parley-data)
//	parley migrate                apply database migrations
//	parley app create ID          create an app and print its API key
//	parley token --user U         print a client token for a user of an app
//
// Configuration comes from defaults, then a YAML file (--config), then
// PARLEY_* environment variables, then flags: a later source wins.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; main only binds it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := newRootCmd(ctx, getenv, stdout, stderr)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	return 0
}
