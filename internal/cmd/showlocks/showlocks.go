// Package showlocks implements `connectdb show-locks`: every advisory lock in
// Connect's database, who holds it, who waits for it, and whether Connect's
// upgrade lock looks stuck.
package showlocks

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/pooler"
	"github.com/connectdb/connectdb/internal/target"
)

// DefaultWatch is the refresh interval of a bare --watch.
const DefaultWatch = 2 * time.Second

// ShowLocksOptions holds the flags of show-locks.
type ShowLocksOptions struct {
	F            *cmdutil.Factory
	AllDatabases bool
	FullQuery    bool
	Watch        time.Duration // 0: print once
	ConnectUser  string        // overrides the URL's user as Connect's role
	StuckAfter   time.Duration
	Warning      time.Duration // --output nagios thresholds (nagios.go)
	Critical     time.Duration
	// afterRender, for tests, runs after each refresh in watch mode.
	afterRender func()
}

// NewCmdShowLocks returns the show-locks command.
func NewCmdShowLocks(f *cmdutil.Factory) *cobra.Command {
	opts := &ShowLocksOptions{F: f}
	cmd := &cobra.Command{
		Use:   "show-locks [--watch [INTERVAL]]",
		Short: "Show advisory locks, their holders and waiters, and whether Connect's upgrade lock is stuck",
		Long: `show-locks lists every PostgreSQL advisory lock in Connect's database, granted or
waited for: the key (bigint or two int4), mode, the holding session (pid, user,
application, client, connection and transaction age, state, current or last
query) and the sessions waiting behind it. For Connect's upgrade lock it prints a
one-line verdict: looks stuck, or a migration is probably running and you should wait.

Connect's lock ID comes from --lock-id or CONNECTDB_LOCK_ID (a bigint such as 4242,
or two integers such as 10,20). Without it, locks held by Connect's database user are
marked as possibly Connect's upgrade lock.

It needs no special privileges, but without superuser or pg_read_all_stats the
state and query of other roles' sessions are hidden; show-locks says so.`,
		Example: `  connectdb show-locks --url "postgres://admin@db.example.com/connect" --lock-id 4242
  connectdb show-locks --lock-id 10,20 --full-query
  connectdb show-locks --all-databases --output json
  connectdb show-locks --watch 5s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				d, err := time.ParseDuration(args[0])
				if err != nil || !cmd.Flags().Changed("watch") {
					return cmdutil.Usagef("unexpected argument %q; show-locks takes only flags (--watch 5s sets the refresh interval)", args[0])
				}
				opts.Watch = d
			}
			if cmd.Flags().Changed("watch") && opts.Watch <= 0 {
				return cmdutil.Usagef("--watch interval must be positive, such as 2s")
			}
			if err := locks.StuckAfterRange.Check(opts.StuckAfter); err != nil {
				return cmdutil.UsageError(err)
			}
			return runShowLocks(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Globals.LockID, "lock-id", "", "Connect's upgrade lock ID: a bigint or two integers a,b (env CONNECTDB_LOCK_ID)")
	fl.BoolVar(&opts.AllDatabases, "all-databases", false, "list advisory locks of every database in the cluster")
	fl.BoolVar(&opts.FullQuery, "full-query", false, "print queries in full instead of cutting them at 80 characters")
	fl.DurationVar(&opts.Watch, "watch", 0, "refresh every INTERVAL (default 2s) until Ctrl-C")
	fl.Lookup("watch").NoOptDefVal = DefaultWatch.String()
	fl.StringVar(&opts.ConnectUser, "connect-user", "", "Connect's database role, when --url logs in as another role (default: the URL's user)")
	fl.DurationVar(&opts.StuckAfter, "stuck-after", locks.DefaultStuckAfter, "idle time after which a holder of Connect's lock looks stuck ("+locks.StuckAfterRange.String()+"; idle in a transaction: at least "+locks.FormatAge(locks.MinTransactionIdle)+")")
	addNagiosFlags(cmd, opts)
	return cmd
}

func runShowLocks(ctx context.Context, opts *ShowLocksOptions) error {
	f := opts.F
	if err := f.CheckOutput("text", "json", "nagios"); err != nil {
		return err
	}
	nagios := f.Globals.Output == "nagios"
	if nagios {
		if err := checkNagiosOptions(opts); err != nil {
			return err
		}
		opts.StuckAfter = opts.Warning
	}
	id, err := locks.LockIDFromFlagOrEnv(f.Globals.LockID, f.Getenv)
	if err != nil {
		return cmdutil.Usagef("%v", err)
	}
	idSource := ""
	if id != nil {
		idSource = "--lock-id"
		if strings.TrimSpace(f.Globals.LockID) == "" {
			idSource = locks.EnvLockID
		}
	}
	set, err := target.Resolve(ctx, f)
	if err != nil {
		return err
	}
	t := set.Primary
	connectUser := opts.ConnectUser
	if connectUser == "" {
		connectUser = t.User
	}
	conn, err := t.Connect(ctx, f.Globals.Timeout)
	if err != nil {
		return cmdutil.Unreachable(err)
	}
	defer conn.Close(context.Background())
	poolerNote := transactionPoolerNote(ctx, conn, t, f.Globals.Timeout)

	for {
		qctx, cancel := context.WithTimeout(ctx, f.Globals.Timeout)
		snap, err := locks.Read(qctx, conn, locks.ListOptions{AllDatabases: opts.AllDatabases})
		cancel()
		if err != nil {
			if opts.Watch > 0 && ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("listing advisory locks in %s: %w", t.Redacted, err)
		}
		rep := locks.BuildReport(snap, id, idSource, connectUser, opts.StuckAfter)
		rep.Target = t.Redacted
		rep.Notes = append(rep.Notes, t.Connection().Notes()...)
		if poolerNote != "" {
			rep.Notes = append(rep.Notes, poolerNote)
		}
		if nagios {
			return writeNagios(f.IO.Out, rep, opts)
		}
		if err := render(f.IO, rep, opts, f.JSON()); err != nil {
			return err
		}
		if opts.Watch <= 0 {
			return nil
		}
		if opts.afterRender != nil {
			opts.afterRender()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.Watch):
		}
	}
}

func render(io *iostreams.IOStreams, rep *locks.Report, opts *ShowLocksOptions, asJSON bool) error {
	w := bufio.NewWriterSize(io.Out, 64<<10)
	if asJSON && opts.Watch > 0 {
		// One JSON object per line, so a consumer can read refresh by refresh.
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("writing JSON output: %w", err)
		}
		return w.Flush()
	}
	if asJSON {
		if err := cmdutil.WriteJSON(w, rep); err != nil {
			return err
		}
		return w.Flush()
	}
	if opts.Watch > 0 && io.IsStdoutTTY() {
		fmt.Fprint(w, "\033[H\033[2J")
	}
	hint := target.HintFlags(opts.F.Globals)
	if opts.StuckAfter != locks.DefaultStuckAfter { // release-locks judges "stuck" the same way
		hint = strings.TrimSpace(hint + " --stuck-after " + opts.StuckAfter.String())
	}
	Text(w, io.ColorScheme(), rep, opts.FullQuery, hint)
	if opts.Watch > 0 {
		fmt.Fprintf(w, "\nRefreshing every %s at %s; press Ctrl-C to stop.\n", opts.Watch, rep.ServerTime.Format("15:04:05 UTC"))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// Text writes the human report: one block per holding session, with the
// locks it holds, the sessions waiting behind it and, for Connect's lock, a
// verdict. targetFlags (see target.HintFlags) go into every "next:" command.
func Text(w io.Writer, cs *iostreams.ColorScheme, rep *locks.Report, fullQuery bool, targetFlags ...string) {
	qlen := 80
	if fullQuery {
		qlen = 0
	}
	scope := "database " + rep.Database
	if rep.AllDatabases {
		scope = "all databases"
	}
	fmt.Fprintf(w, "Advisory locks in %s (%s, as %s)\n", scope, rep.Target, rep.User)
	if rep.LockID != nil {
		fmt.Fprintf(w, "Connect's upgrade lock: %s (%s, from %s)\n", rep.LockID, rep.LockID.Form(), rep.LockIDSource)
	} else {
		fmt.Fprintf(w, "Connect's upgrade lock: ID unknown; locks held by user %s are marked as possibly Connect's\n", rep.ConnectUser)
	}
	held, waiting := rep.Held()
	if held+waiting == 0 {
		fmt.Fprintf(w, "\nNo advisory locks are held or awaited.")
		if rep.LockID != nil {
			fmt.Fprintf(w, " Connect's upgrade lock %s is free.", rep.LockID)
		}
		fmt.Fprintln(w)
		writeNotes(w, cs, rep)
		return
	}

	// Group the rows by holding session without copying them: 10,000
	// locks are common, so the loop over rows does no formatting and no
	// allocation per row beyond the index it keeps.
	type dk struct {
		db  string
		key locks.Key
	}
	// holder is one session's granted rows (indexes into rep.Locks).
	type holder struct {
		db      string
		pid     int32
		rows    []int
		connect bool
	}
	waiters := map[dk][]int{}
	for i := range rep.Locks {
		if l := &rep.Locks[i]; !l.Granted {
			k := dk{l.Database, l.Key}
			waiters[k] = append(waiters[k], i)
		}
	}
	// heldBy lists the holders of the keys someone waits for.
	heldBy := make(map[dk][]int32, len(waiters))
	type dbPID struct {
		db  string
		pid int32
	}
	byPID := map[dbPID]*holder{}
	var order []*holder
	var last *holder
	for i := range rep.Locks {
		l := &rep.Locks[i]
		if !l.Granted {
			continue
		}
		if len(waiters) > 0 {
			if k := (dk{l.Database, l.Key}); waiters[k] != nil {
				heldBy[k] = append(heldBy[k], l.PID)
			}
		}
		h := last
		if h == nil || h.pid != l.PID || h.db != l.Database {
			hk := dbPID{l.Database, l.PID}
			if h = byPID[hk]; h == nil {
				h = &holder{db: l.Database, pid: l.PID}
				byPID[hk] = h
				order = append(order, h)
			}
			last = h
		}
		h.rows = append(h.rows, i)
		h.connect = h.connect || l.Connect != locks.NotConnect
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.db != b.db {
			return a.db < b.db
		}
		if a.connect != b.connect {
			return a.connect
		}
		return a.pid < b.pid
	})

	connectHeld := false
	lastDB := ""
	var plain, mine []int
	var line []byte
	connectTag := "  " + cs.Bold("[Connect's upgrade lock]")
	for _, h := range order {
		if rep.AllDatabases && h.db != lastDB {
			fmt.Fprintf(w, "\n== database %s ==\n", h.db)
			lastDB = h.db
		}
		first := rep.Locks[h.rows[0]]
		fmt.Fprintf(w, "\n%s\n", cs.Bold(holderTitle(first)))
		sessionLines(w, rep, first, qlen)
		plain = plain[:0]
		for _, i := range h.rows {
			l := &rep.Locks[i]
			mine = mine[:0]
			if len(waiters) > 0 {
				for _, o := range waiters[dk{l.Database, l.Key}] {
					if slices.Contains(rep.Locks[o].BlockedBy, l.PID) {
						mine = append(mine, o)
					}
				}
			}
			if l.Connect == locks.NotConnect && len(mine) == 0 {
				plain = append(plain, i)
				continue
			}
			line = append(l.Key.Append(append(line[:0], "  holds "...)), ' ')
			line = append(line, l.Mode...)
			switch l.Connect {
			case locks.ConnectLock:
				line = append(line, connectTag...)
				connectHeld = true
			case locks.PossiblyConnect:
				line = append(line, "  [possibly Connect's upgrade lock]"...)
			}
			w.Write(append(line, '\n'))
			for _, o := range mine {
				fmt.Fprintf(w, "    └ waiting: %s\n", waiterLine(rep, rep.Locks[o]))
			}
		}
		if len(plain) > 0 {
			label := "holds"
			if len(plain) < len(h.rows) {
				label = "also holds"
			}
			writeKeys(w, "  "+label+": ", rep.Locks, plain, 100)
		}
		if h.connect && first.Verdict != nil {
			fmt.Fprintf(w, "  verdict: %s\n", colorVerdict(cs, first.Verdict))
			if first.Verdict.Kind == locks.VerdictStuck {
				id := first.Key.String()
				if rep.LockID != nil {
					id = rep.LockID.String()
				}
				hint := append([]string{"connectdb release-locks"}, targetFlags...)
				hint = append(hint, fmt.Sprintf("--lock-id %s --pid %d", id, first.PID))
				fmt.Fprintf(w, "  next: %s   (a dry run; add --yes to act)\n", strings.Join(slices.DeleteFunc(hint, func(s string) bool { return s == "" }), " "))
			}
		}
	}
	// Waiters that no holder blocks directly (queued behind other waiters).
	for _, l := range rep.Locks {
		if l.Granted {
			continue
		}
		held := heldBy[dk{l.Database, l.Key}]
		direct := false
		for _, b := range l.BlockedBy {
			direct = direct || slices.Contains(held, b)
		}
		if !direct {
			fmt.Fprintf(w, "\n%s %s: %s\n", cs.Yellow("not granted"), l.Key, waiterLine(rep, l))
		}
	}
	fmt.Fprintf(w, "\n%d held by %d %s, %d waiting.", held, len(order), plural(len(order), "session", "sessions"), waiting)
	if rep.LockID != nil && !connectHeld {
		fmt.Fprintf(w, " Connect's upgrade lock %s is not held", rep.LockID)
		if !rep.AllDatabases {
			fmt.Fprintf(w, " in this database (--all-databases checks the others)")
		}
		fmt.Fprint(w, ".")
	}
	fmt.Fprintln(w)
	writeNotes(w, cs, rep)
}

func holderTitle(l locks.ReportLock) string {
	if l.PID == 0 {
		return "prepared transaction " + l.VirtualXact
	}
	return fmt.Sprintf("pid %d", l.PID)
}

// appendKeyMode appends a key for the compact list: "4242", or
// "10,20(share)".
func appendKeyMode(b []byte, l *locks.ReportLock) []byte {
	b = l.Key.Append(b)
	if l.Mode == "share" {
		b = append(b, "(share)"...)
	}
	return b
}

// writeKeys writes prefix and the keys of the rows idx of ls separated by
// spaces, wrapping at width with continuation lines indented like the
// prefix, in one write and without a string per key.
func writeKeys(w io.Writer, prefix string, ls []locks.ReportLock, idx []int, width int) {
	b := make([]byte, 0, len(prefix)+len(idx)*12+len(idx)/8*len(prefix))
	b = append(b, prefix...)
	col := len(prefix)
	var word [64]byte
	for n, i := range idx {
		wd := appendKeyMode(word[:0], &ls[i])
		if n > 0 {
			if col+1+len(wd) > width {
				b = append(b, '\n')
				for range len(prefix) {
					b = append(b, ' ')
				}
				col = len(prefix)
			} else {
				b = append(b, ' ')
				col++
			}
		}
		b = append(b, wd...)
		col += len(wd)
	}
	b = append(b, '\n')
	w.Write(b)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func writeNotes(w io.Writer, cs *iostreams.ColorScheme, rep *locks.Report) {
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "%s %s\n", cs.Gray("note:"), n)
	}
}

func sessionLines(w io.Writer, rep *locks.Report, l locks.ReportLock, qlen int) {
	s := l.Session
	if l.PID == 0 {
		fmt.Fprintf(w, "  prepared transaction %s (see pg_prepared_xacts)\n", l.VirtualXact)
		return
	}
	if s == nil {
		fmt.Fprintf(w, "  session not shown in pg_stat_activity\n")
		return
	}
	if !s.Visible {
		fmt.Fprintf(w, "  user %s, app %s; state, query, client and times hidden (needs pg_read_all_stats)\n", s.User, app(s.Application))
		return
	}
	now := rep.ServerTime
	client := s.ClientAddr
	if client == "" {
		client = "local socket"
	}
	fmt.Fprintf(w, "  user %s, app %s, client %s\n", s.User, app(s.Application), client)
	xact := "no open transaction"
	if s.XactStart != nil {
		xact = "transaction open " + locks.FormatAge(locks.Age(now, s.XactStart))
	}
	fmt.Fprintf(w, "  connected %s ago, %s, %s for %s\n", locks.FormatAge(locks.Age(now, s.BackendStart)), xact, s.State, locks.FormatAge(locks.Age(now, s.StateChange)))
	label := "last query"
	if s.State == "active" {
		label = "running"
	}
	if s.Query != "" {
		fmt.Fprintf(w, "  %s: %s\n", label, locks.OneLine(s.Query, qlen))
	}
}

func waiterLine(rep *locks.Report, l locks.ReportLock) string {
	s := l.Session
	b := make([]string, len(l.BlockedBy))
	for i, p := range l.BlockedBy {
		b[i] = pidStr(p)
	}
	blocked := ""
	if len(b) > 0 {
		blocked = ", blocked by pid " + strings.Join(b, ", ")
	}
	if s == nil || !s.Visible {
		who := ""
		if s != nil {
			who = fmt.Sprintf(" (user %s, app %s)", s.User, app(s.Application))
		}
		return fmt.Sprintf("pid %s%s wants %s%s", pidStr(l.PID), who, l.Mode, blocked)
	}
	client := s.ClientAddr
	if client == "" {
		client = "local socket"
	}
	return fmt.Sprintf("pid %s (user %s, app %s, client %s) wants %s, waiting %s%s",
		pidStr(l.PID), s.User, app(s.Application), client, l.Mode, locks.FormatAge(locks.Age(rep.ServerTime, s.QueryStart)), blocked)
}

func colorVerdict(cs *iostreams.ColorScheme, v *locks.Verdict) string {
	switch v.Kind {
	case locks.VerdictStuck:
		return cs.Red(v.Text)
	case locks.VerdictBusy, locks.VerdictRecent:
		return cs.Green(v.Text)
	}
	return cs.Yellow(v.Text)
}

func app(a string) string {
	if a == "" {
		return `""`
	}
	return a
}

func pidStr(p int32) string { return fmt.Sprint(p) }

// transactionPoolerNote says, when show-locks reached PostgreSQL through a
// transaction-mode pooler (internal/pooler), that a lock's holder may be a
// pooled server connection that no client owns; "" otherwise.
func transactionPoolerNote(ctx context.Context, conn *pgx.Conn, t *target.Target, timeout time.Duration) string {
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	port := t.Port
	if strings.HasPrefix(t.Host, "/") {
		port = 0
	}
	f, err := pooler.Detect(qctx, conn, port, func(ctx context.Context) (*pgx.Conn, error) { return t.Connect(ctx, timeout) })
	if err != nil || f.Mode != pooler.Transaction {
		return ""
	}
	return "connectdb reached PostgreSQL through a transaction-mode pooler: a session-level advisory lock taken through it stays on a pooled server connection after the client's transaction ends, so a holder may be a connection no client owns; ask the pooler which client used it (PgBouncer: SHOW CLIENTS, SHOW SERVERS) before releasing"
}
