// Command connectdb checks and repairs the PostgreSQL side of a Posit Connect
// installation. See README.md and docs/ for every command.
package main

import (
	"context"
	"os"

	"github.com/connectdb/connectdb/internal/cmd/root"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
)

func main() {
	// First: from here on only f.Getenv sees PG* variables, so that pgx
	// builds every connection from its URL alone, as Connect does.
	getenv := cmdutil.IsolatePGEnv()
	ctx, stop := root.SignalContext(context.Background())
	f := cmdutil.NewFactory(iostreams.System())
	f.Getenv = getenv
	code := root.Run(ctx, f, os.Args[1:])
	stop()
	os.Exit(code)
}
