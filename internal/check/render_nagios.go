package check

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/pool"
)

// Plugin states of the monitoring-plugins guidelines, which are also the
// exit codes of `check --output nagios`.
const (
	NagiosOK       = 0
	NagiosWarning  = 1
	NagiosCritical = 2
	NagiosUnknown  = 3
)

// NagiosStateName is the word for a plugin state in the status line.
func NagiosStateName(state int) string {
	switch state {
	case NagiosOK:
		return "OK"
	case NagiosWarning:
		return "WARNING"
	case NagiosCritical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// Perf is one number a check measured, rendered as Nagios performance data
// ('label'=value[unit];warn;crit;min;max).
type Perf struct {
	Label string
	Value float64
	Unit  string   // "s", "" (a count), ...
	Min   *float64 // nil: not printed
	Max   *float64
}

func (p Perf) String() string {
	num := func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f, 'f', -1, 64)
	}
	return fmt.Sprintf("%s=%s%s;;;%s;%s", perfLabel(p.Label), strconv.FormatFloat(p.Value, 'f', -1, 64), p.Unit, num(p.Min), num(p.Max))
}

// perfLabel quotes a label that holds anything but letters, digits and _.
func perfLabel(l string) string {
	for _, r := range l {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "'" + strings.ReplaceAll(l, "'", "") + "'"
		}
	}
	return l
}

func float(f float64) *float64 { return &f }

// connectPerf is what pg.connect measures: the time to connect and log in,
// and the connection slots that are free for non-superusers.
func connectPerf(took time.Duration, f facts) []Perf {
	server := pool.Server{MaxConnections: f.MaxConnections, SuperuserReserved: f.SuperReserved, Reserved: f.Reserved, Others: f.OthersUsing}
	return []Perf{
		{Label: "connect_time", Value: roundSeconds(took), Unit: "s", Min: float(0)},
		{Label: "free_slots", Value: float64(server.Available()), Min: float(0), Max: float(float64(f.MaxConnections))},
	}
}

// lockWaitPerf is how long the longest-waiting session has waited for
// Connect's upgrade lock (0 when nobody waits).
func lockWaitPerf(now time.Time, waiting []locks.Lock) []Perf {
	var longest time.Duration
	for _, l := range waiting {
		if l.Session == nil {
			continue
		}
		if age := locks.Age(now, l.Session.QueryStart); age > longest {
			longest = age
		}
	}
	return []Perf{{Label: "lock_wait", Value: roundSeconds(longest), Unit: "s", Min: float(0)}}
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond).Milliseconds()) / 1000
}

// NagiosState maps the report to a plugin state: CRITICAL when a check
// failed or no database could be reached (Connect would not start),
// WARNING when a check warned, else OK.
func (r *Report) NagiosState() int {
	c := r.Counts()
	switch {
	case c[Fail] > 0 || r.Unreachable():
		return NagiosCritical
	case c[Warn] > 0:
		return NagiosWarning
	}
	return NagiosOK
}

// WriteNagios renders the report as a monitoring plugin does: one status
// line "CONNECTDB STATE - summary | perfdata", then one line per check that
// did not pass. It returns the plugin state, which is the exit code.
func (r *Report) WriteNagios(w io.Writer) (int, error) {
	state := r.NagiosState()
	c := r.Counts()
	var problems []Result
	for _, res := range r.Results {
		if res.Status == Fail || res.Status == Warn {
			problems = append(problems, res)
		}
	}
	var summary string
	switch {
	case len(problems) == 0:
		summary = fmt.Sprintf("%d checks passed", c[Pass])
		if c[Skip] > 0 {
			summary += fmt.Sprintf(", %d skipped", c[Skip])
		}
		var on []string
		for _, t := range r.Targets {
			if t.Reached {
				on = append(on, fmt.Sprintf("%s (PostgreSQL %s)", t.Scope, t.ServerVersion))
			}
		}
		if len(on) > 0 {
			summary += " on " + strings.Join(on, " and ")
		}
	default:
		first := problems[0]
		summary = fmt.Sprintf("%d failed, %d warnings: %s (%s): %s", c[Fail], c[Warn], first.ID, first.Target, first.Message)
		if len(problems) > 1 {
			summary += fmt.Sprintf(" (and %d more)", len(problems)-1)
		}
	}
	var perf []string
	for _, res := range r.Results {
		for _, p := range res.Perf {
			if res.Target != ScopePrimary && res.Target != ScopeConfig {
				p.Label = string(res.Target) + "_" + p.Label
			}
			perf = append(perf, p.String())
		}
	}
	var b strings.Builder
	b.WriteString("CONNECTDB " + NagiosStateName(state) + " - " + nagiosText(summary))
	if len(perf) > 0 {
		b.WriteString(" | " + strings.Join(perf, " "))
	}
	b.WriteString("\n")
	for _, res := range problems {
		line := fmt.Sprintf("%s %s (%s): %s", strings.ToUpper(string(res.Status)), res.ID, res.Target, res.Message)
		if res.Remedy != "" {
			line += " Fix: " + res.Remedy
		}
		b.WriteString(nagiosText(line) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return state, err
}

// nagiosText keeps a text on one line and free of the "|" that starts
// performance data.
func nagiosText(s string) string {
	return strings.NewReplacer("|", "/", "\r", " ", "\n", " ").Replace(s)
}
