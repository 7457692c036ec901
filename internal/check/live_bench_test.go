package check

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// nativeTool finds a native PostgreSQL client program: $env, else the
// newest /usr/lib/postgresql/*/bin/name. Debian's /usr/bin/psql and
// /usr/bin/pg_isready are Perl wrappers with tens of milliseconds of
// start-up, so they are never used.
func nativeTool(b *testing.B, env, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(found) == 0 {
		b.Fatalf("no native %s: install postgresql-client-15 (apt-get install -y postgresql-client-15; scripts/bench-check.sh does) or set %s", name, env)
	}
	return found[len(found)-1]
}

// BenchmarkCheckVsPsql times a full `connectdb check` (every check, the
// pipelined privilege probe) against native `psql -c 'select 1'` and
// native pg_isready on the same server, over TLS (verify-full) with a
// password. The three run in turn, the order rotating every round, and the
// figures are the medians of the per-round ratios. CONNECTDB_BIN names the
// binary (built here when unset); scripts/bench-check.sh prints the table.
func BenchmarkCheckVsPsql(b *testing.B) {
	bin := os.Getenv("CONNECTDB_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "connectdb")
		if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/connectdb").CombinedOutput(); err != nil {
			b.Fatalf("building connectdb: %v\n%s", err, out)
		}
	}
	psql, isready := nativeTool(b, "CONNECTDB_PSQL", "psql"), nativeTool(b, "CONNECTDB_PG_ISREADY", "pg_isready")
	const password = "bench-pw"
	role := srv.NewRole(b, password)
	db := srv.NewDatabase(b, role)
	pwFile := filepath.Join(b.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	conninfo := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=verify-full sslrootcert=%s", srv.Host, srv.Port, role, db, srv.CACertFile)
	cmds := []*exec.Cmd{
		exec.Command(bin, "check", "--url", srv.URL(role, "", db), "--password-file", pwFile),
		exec.Command(psql, "-X", "-q", "-t", "-c", "select 1", conninfo),
		exec.Command(isready, "-q", "-d", conninfo),
	}
	names := []string{"check", "psql", "pg_isready"}
	cpu := make([][]time.Duration, len(cmds)) // the client's user + system time
	run := func(i int) time.Duration {
		c := exec.Command(cmds[i].Path, cmds[i].Args[1:]...)
		c.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10", "NO_COLOR=1")
		start := time.Now()
		out, err := c.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("%s: %v\n%s", names[i], err, out)
		}
		cpu[i] = append(cpu[i], c.ProcessState.UserTime()+c.ProcessState.SystemTime())
		return took
	}
	for i := range cmds { // warm the page cache and the server
		run(i)
		cpu[i] = nil
	}
	times := make([][]time.Duration, len(cmds))
	var vsPsql, vsReady []float64
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		round := make([]time.Duration, len(cmds))
		for k := range cmds {
			i := (n + k) % len(cmds)
			round[i] = run(i)
		}
		for i, d := range round {
			times[i] = append(times[i], d)
		}
		vsPsql = append(vsPsql, float64(round[0])/float64(round[1]))
		vsReady = append(vsReady, float64(round[0])/float64(round[2]))
	}
	b.StopTimer()
	for i, ts := range times {
		b.ReportMetric(float64(median(ts).Microseconds())/1000, names[i]+"-ms")
	}
	b.ReportMetric(median(vsPsql), "check/psql")
	b.ReportMetric(median(vsReady), "check/pg_isready")
	b.Logf("%d rounds: check %v, native psql -c 'select 1' %v, native pg_isready %v; median per-round ratio check/psql %.2f, check/pg_isready %.2f",
		b.N, median(times[0]), median(times[1]), median(times[2]), median(vsPsql), median(vsReady))
	b.Logf("%d rounds: client CPU (user + system) check %v, native psql %v, native pg_isready %v", b.N,
		median(cpu[0]).Round(time.Millisecond), median(cpu[1]).Round(time.Millisecond), median(cpu[2]).Round(time.Millisecond))
	b.Logf("psql: %s, pg_isready: %s, PostgreSQL %s, TLS verify-full, scram-sha-256", psql, isready, srv.Version)
}

func median[T time.Duration | float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
