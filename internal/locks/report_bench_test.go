package locks_test

import (
	"testing"

	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/locks/lockstest/synth"
)

// BenchmarkBuildReport judges a synthetic snapshot of 200 sessions holding
// 10,000 locks (show-locks' work between reading and rendering): one
// verdict per session, not per lock.
func BenchmarkBuildReport(b *testing.B) {
	snap := synth.Synthetic(200, 50)
	id := locks.BigintKey(4242)
	b.ReportAllocs()
	for b.Loop() {
		locks.BuildReport(snap, &id, "--lock-id", "connect", 0)
	}
}
