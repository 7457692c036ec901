package cmdutil

import "strconv"

// NagiosExit is returned by a command that has printed its monitoring-plugin
// status line (--output nagios): the process exits with State (0 OK,
// 1 WARNING, 2 CRITICAL, 3 UNKNOWN) and nothing more is printed.
type NagiosExit struct{ State int }

func (e *NagiosExit) Error() string { return "nagios state " + strconv.Itoa(e.State) }
