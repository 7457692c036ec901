package migrate

import (
	"context"
	"testing"
	"time"
)

// BenchmarkMigrate100k migrates a generated 100k-row Connect-like database
// (copy, verify, keys, indexes, foreign keys, ANALYZE) and reports rows/s.
// The pgloader comparison and the 1M-row figures are in
// scripts/bench-migrate.sh.
func BenchmarkMigrate100k(b *testing.B) {
	path := genCore(b, 100000)
	var rows int64
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b)
		tgt := e.target(b)
		b.StartTimer()
		start := time.Now()
		rep, err := Run(context.Background(), []Job{{Target: tgt, Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		rows += rep.Rows
	}
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
}
