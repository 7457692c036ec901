package sizepool

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/pool"
	"github.com/connectdb/connectdb/internal/pool/probe"
)

// report is everything size-pool found, ready to render.
type report struct {
	Mode               string
	Target             string // redacted URL, live mode only
	Facts              *probe.Facts
	Nodes              int
	Reserve            int
	Pooler             pool.Pooler
	Instrumentation    pool.Instrumentation
	InstrumentationWhy string
	Current            current
	Input              pool.Input
	Plan               pool.Plan
	Sweep              []pool.SweepRow
	Notes              []string
}

func render(f *cmdutil.Factory, rep *report) error {
	var err error
	switch f.Globals.Output {
	case "json":
		err = cmdutil.WriteJSON(f.IO.Out, toJSON(rep))
	case "gcfg":
		_, err = io.WriteString(f.IO.Out, gcfgBlock(rep))
	default:
		err = writeText(f.IO.Out, f.IO.ColorScheme(), rep)
	}
	if err != nil {
		return fmt.Errorf("writing the size-pool report: %w", err)
	}
	return nil
}

// JSON shape of `size-pool --output json`.
type jsonReport struct {
	Mode            string              `json:"mode"`
	Target          string              `json:"target,omitempty"`
	ServerVersion   string              `json:"server_version,omitempty"`
	Nodes           int                 `json:"nodes"`
	Instrumentation string              `json:"instrumentation"`
	InstrumentWhy   string              `json:"instrumentation_reason"`
	Pooler          string              `json:"pooler"`
	Server          jsonServer          `json:"server"`
	Clients         []probe.ClientGroup `json:"clients,omitempty"`
	Current         jsonCurrent         `json:"current"`
	Evaluation      pool.Evaluation     `json:"evaluation"`
	Recommendation  jsonRecommendation  `json:"recommendation"`
	Sweep           []pool.SweepRow     `json:"sweep,omitempty"`
	Notes           []string            `json:"notes"`
	Verdict         pool.Verdict        `json:"verdict"`
}

type jsonServer struct {
	MaxConnections    int `json:"max_connections"`
	SuperuserReserved int `json:"superuser_reserved_connections"`
	Reserved          int `json:"reserved_connections"`
	Others            int `json:"other_clients"`
	Reserve           int `json:"reserve"`
	Available         int `json:"available"`
}

type jsonCurrent struct {
	MaxOpen      int    `json:"max_open_connections"`
	MaxIdle      int    `json:"max_idle_connections"`
	MaxLifetime  string `json:"connection_max_lifetime,omitempty"`
	OpenFrom     string `json:"max_open_from"`
	IdleFrom     string `json:"max_idle_from"`
	LifetimeFrom string `json:"connection_max_lifetime_from"`
}

type jsonRecommendation struct {
	pool.Recommendation
	MaxLifetime string `json:"connection_max_lifetime"`
}

func toJSON(rep *report) jsonReport {
	s := rep.Input.Server
	cur := rep.Current
	j := jsonReport{
		Mode: rep.Mode, Target: rep.Target, Nodes: rep.Nodes,
		Instrumentation: string(rep.Instrumentation), InstrumentWhy: rep.InstrumentationWhy, Pooler: string(rep.Pooler),
		Server: jsonServer{MaxConnections: s.MaxConnections, SuperuserReserved: s.SuperuserReserved, Reserved: s.Reserved,
			Others: s.Others, Reserve: s.Reserve, Available: s.Available()},
		Current: jsonCurrent{MaxOpen: cur.Settings.MaxOpen, MaxIdle: cur.Settings.MaxIdle,
			OpenFrom: cur.OpenFrom, IdleFrom: cur.IdleFrom, LifetimeFrom: cur.LifetimeFrom},
		Evaluation:     rep.Plan.Evaluation,
		Recommendation: jsonRecommendation{Recommendation: rep.Plan.Recommendation, MaxLifetime: pool.FormatDuration(rep.Plan.Recommendation.MaxLifetime)},
		Sweep:          rep.Sweep,
		Notes:          append([]string{}, rep.Notes...),
		Verdict:        rep.Plan.Evaluation.Verdict(),
	}
	if cur.Settings.LifetimeSet {
		j.Current.MaxLifetime = pool.FormatDuration(cur.Settings.MaxLifetime)
	}
	if rep.Facts != nil {
		j.ServerVersion, j.Clients = rep.Facts.Version, rep.Facts.Clients
	}
	return j
}

// gcfgBlock is a ready [Database] block with the reasons as comments.
func gcfgBlock(rep *report) string {
	r := rep.Plan.Recommendation
	var b strings.Builder
	fmt.Fprintf(&b, "; connectdb size-pool: %d %s, %s, %s\n", rep.Nodes, plural(rep.Nodes, "node", "nodes"), instrumentationText(rep), poolerText(rep.Pooler))
	fmt.Fprintf(&b, "; server: max_connections = %d, %d available to Connect\n", rep.Input.Server.MaxConnections, rep.Input.Server.Available())
	if r.RaiseMaxConnections {
		fmt.Fprintf(&b, "; raise max_connections to %s for MaxOpenConnections = %d on every node\n", countText(r.RequiredMaxConnections), r.DesiredOpen)
	}
	b.WriteString("[Database]\nProvider = postgres\n")
	fmt.Fprintf(&b, "; %s\nMaxOpenConnections = %d\n", r.OpenReason, r.MaxOpen)
	fmt.Fprintf(&b, "; %s\nMaxIdleConnections = %d\n", r.IdleReason, r.MaxIdle)
	fmt.Fprintf(&b, "; %s\nConnectionMaxLifetime = %s\n", r.LifetimeReason, pool.FormatDuration(r.MaxLifetime))
	return b.String()
}

func writeText(w io.Writer, cs *iostreams.ColorScheme, rep *report) error {
	var b strings.Builder
	s := rep.Input.Server
	ev, r := rep.Plan.Evaluation, rep.Plan.Recommendation
	cur := rep.Current

	fmt.Fprintf(&b, "%s %d %s, %s, %s\n", cs.Bold("Connect cluster:"), rep.Nodes, plural(rep.Nodes, "node", "nodes"), instrumentationText(rep), poolerText(rep.Pooler))
	fmt.Fprintf(&b, "  metrics: %s (%s)\n", rep.Instrumentation, rep.InstrumentationWhy)
	if rep.Mode == "live" {
		ver := ""
		if rep.Facts != nil {
			ver = " (PostgreSQL " + rep.Facts.Version + ")"
		}
		fmt.Fprintf(&b, "\n%s %s%s\n", cs.Bold("Server:"), rep.Target, ver)
	} else {
		fmt.Fprintf(&b, "\n%s offline, from --max-connections\n", cs.Bold("Server:"))
	}
	row := func(label string, n int) { fmt.Fprintf(&b, "  %-34s %6d\n", label, n) }
	row("max_connections", s.MaxConnections)
	row("− superuser_reserved_connections", s.SuperuserReserved)
	row("− reserved_connections", s.Reserved)
	if rep.Mode == "live" {
		row("− held by other clients now", s.Others)
	}
	row("− --reserve", s.Reserve)
	row("= available to Connect", s.Available())

	if rep.Facts != nil && len(rep.Facts.Clients) > 0 {
		fmt.Fprintf(&b, "\n%s\n", cs.Bold("Clients connected now (pg_stat_activity, without this session):"))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  application\tuser\tconnections\t\n")
		for _, g := range rep.Facts.Clients {
			note := ""
			if g.Connect {
				note = "Connect's user: counted in the worst case"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", g.Application, g.User, g.Connections, note)
		}
		_ = tw.Flush()
	}

	fmt.Fprintf(&b, "\n%s\n", cs.Bold("Current [Database] settings:"))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  MaxOpenConnections\t%d\t%s\n", cur.Settings.MaxOpen, cs.Gray(cur.OpenFrom))
	fmt.Fprintf(tw, "  MaxIdleConnections\t%d\t%s\n", cur.Settings.MaxIdle, cs.Gray(cur.IdleFrom))
	fmt.Fprintf(tw, "  ConnectionMaxLifetime\t%s\t%s\n", durationText(cur.Settings.MaxLifetime, cur.Settings.LifetimeSet), cs.Gray(cur.LifetimeFrom))
	_ = tw.Flush()
	if ev.Bounded {
		fmt.Fprintf(&b, "  worst case: %d × %d × %d %s = %d connections, %d available\n", rep.Nodes, cur.Settings.MaxOpen, ev.PoolsPerNode, plural(ev.PoolsPerNode, "pool", "pools"), ev.WorstCase, ev.Available)
	} else {
		fmt.Fprintf(&b, "  worst case: unbounded, %d available\n", ev.Available)
	}

	fmt.Fprintf(&b, "\n%s\n", cs.Bold("Checks:"))
	for _, c := range ev.Checks {
		fmt.Fprintf(&b, "  %s  %-17s %s\n", verdictText(cs, c.Verdict), c.ID, c.Message)
	}

	if rep.Sweep != nil {
		fmt.Fprintf(&b, "\n%s\n", cs.Bold(fmt.Sprintf("Sweep (MaxOpenConnections = %d now, %d desired):", cur.Settings.MaxOpen, r.DesiredOpen)))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  nodes\tworst case\tavailable\tfits\trecommended open\trecommended idle\tmax_connections needed\t\n")
		for _, row := range rep.Sweep {
			worst := "unbounded"
			if row.Bounded {
				worst = fmt.Sprint(row.WorstCase)
			}
			open := fmt.Sprint(row.RecommendedOpen)
			if !row.Feasible {
				open = "none fits"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%d\t%s\t%s\t%d\t%s\t\n", row.Nodes, worst, row.Available, yesNo(row.Fits), open, row.RecommendedIdle, countText(row.RequiredMaxConnections))
		}
		_ = tw.Flush()
	}

	fmt.Fprintf(&b, "\n%s\n", cs.Bold("Recommended [Database] settings per node:"))
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  MaxOpenConnections\t= %d\t%s\n", r.MaxOpen, r.OpenReason)
	fmt.Fprintf(tw, "  MaxIdleConnections\t= %d\t%s\n", r.MaxIdle, r.IdleReason)
	fmt.Fprintf(tw, "  ConnectionMaxLifetime\t= %s\t%s\n", pool.FormatDuration(r.MaxLifetime), r.LifetimeReason)
	_ = tw.Flush()
	switch {
	case r.RaiseMaxConnections:
		fmt.Fprintf(&b, "  max_connections: raise it from %d to %s so every node can open %d (%d × %d × %d + %d held)\n",
			s.MaxConnections, countText(r.RequiredMaxConnections), r.DesiredOpen, rep.Nodes, r.DesiredOpen, ev.PoolsPerNode, s.Held())
	default:
		fmt.Fprintf(&b, "  max_connections: %d is enough; the cluster needs %d for %d per node\n", s.MaxConnections, r.RequiredMaxConnections, r.DesiredOpen)
	}
	if rep.Instrumentation == pool.MetricsSeparate {
		fmt.Fprintf(&b, "  instrumentation server: needs room for %d × %d = %d more connections\n", rep.Nodes, r.MaxOpen, rep.Nodes*r.MaxOpen)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}

	fmt.Fprintf(&b, "\n%s %s\n", cs.Bold("Result:"), resultText(cs, ev))
	_, err := io.WriteString(w, trimLines(b.String()))
	return err
}

// trimLines drops the spaces tabwriter leaves at the end of lines.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func resultText(cs *iostreams.ColorScheme, ev pool.Evaluation) string {
	warns := 0
	for _, c := range ev.Checks {
		if c.Verdict == pool.Warn {
			warns++
		}
	}
	w := ""
	if warns > 0 {
		w = fmt.Sprintf(" (%d %s)", warns, plural(warns, "warning", "warnings"))
	}
	switch {
	case ev.Verdict() == pool.Fail && !ev.Fits:
		return cs.Red("FAIL") + " the current settings do not fit the server" + w
	case ev.Verdict() == pool.Fail:
		return cs.Red("FAIL") + " the current settings fit the server but break a rule" + w
	case warns > 0:
		return cs.Yellow("WARN") + " the current settings fit the server" + w
	}
	return cs.Green("PASS") + " the current settings fit the server"
}

func verdictText(cs *iostreams.ColorScheme, v pool.Verdict) string {
	switch v {
	case pool.Fail:
		return cs.Red("fail")
	case pool.Warn:
		return cs.Yellow("warn")
	}
	return cs.Green("pass")
}

func instrumentationText(rep *report) string {
	switch rep.Instrumentation {
	case pool.MetricsSame:
		return "metrics on the same server (2 pools per node)"
	case pool.MetricsSeparate:
		return "metrics on a separate server (1 pool per node here)"
	}
	return "metrics off (1 pool per node)"
}

func poolerText(p pool.Pooler) string {
	switch p {
	case pool.PoolerSession:
		return "through a session-mode pooler"
	case pool.PoolerTransaction:
		return "through a transaction-mode pooler"
	}
	return "direct to PostgreSQL"
}

func countText(n int) string {
	if n <= 0 {
		return "more than can be counted"
	}
	return fmt.Sprint(n)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
