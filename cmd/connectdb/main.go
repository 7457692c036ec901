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
	ctx, stop := root.SignalContext(context.Background())
	code := root.Run(ctx, cmdutil.NewFactory(iostreams.System()), os.Args[1:])
	stop()
	os.Exit(code)
}
