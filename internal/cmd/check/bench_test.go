package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCheckVsPgIsready runs the connectdb binary named by
// CONNECTDB_BIN (a full `check` against the test server, loopback, TLS)
// and /usr/bin/pg_isready against the same server, and reports the median
// wall time of each and the budget check <= 1.5 x pg_isready + 100ms.
// scripts/bench-check.sh builds the binary and prints the comparison.
func BenchmarkCheckVsPgIsready(b *testing.B) {
	bin := os.Getenv("CONNECTDB_BIN")
	if bin == "" {
		b.Skip("set CONNECTDB_BIN to a built connectdb binary (scripts/bench-check.sh does)")
	}
	role := srv.NewRole(b, "bench-pw")
	db := srv.NewDatabase(b, role)
	pwFile := filepath.Join(b.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("bench-pw\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	url := srv.URL(role, "", db)
	run := func(name string, args ...string) time.Duration {
		start := time.Now()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(start)
	}
	var checks, readys []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		checks = append(checks, run(bin, "check", "--url", url, "--password-file", pwFile))
		readys = append(readys, run("/usr/bin/pg_isready", "-q", "-h", srv.Host, "-p", strconv.Itoa(srv.Port), "-d", db))
	}
	b.StopTimer()
	med := func(ds []time.Duration) time.Duration {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	c, r := med(checks), med(readys)
	budget := time.Duration(1.5*float64(r)) + 100*time.Millisecond
	b.ReportMetric(float64(c.Microseconds())/1000, "check-ms")
	b.ReportMetric(float64(r.Microseconds())/1000, "pg_isready-ms")
	b.ReportMetric(float64(budget.Microseconds())/1000, "budget-ms")
	b.Logf("check %v, pg_isready %v, budget (1.5 x pg_isready + 100ms) %v, within budget: %v", c, r, budget, c <= budget)
}
