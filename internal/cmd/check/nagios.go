package check

import (
	engine "github.com/connectdb/connectdb/internal/check"
	"github.com/connectdb/connectdb/internal/cmdutil"
)

// writeNagios prints the report as a monitoring plugin (--output nagios) and
// returns the plugin state as the exit: 0 OK, 1 WARNING, 2 CRITICAL. An
// error before the report (bad input) becomes UNKNOWN (3) in the root command.
func writeNagios(opts *CheckOptions, rep *engine.Report) error {
	state, err := rep.WriteNagios(opts.F.IO.Out)
	if err != nil {
		return err
	}
	return &cmdutil.NagiosExit{State: state}
}
