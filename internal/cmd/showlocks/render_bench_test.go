package showlocks

import (
	"io"
	"testing"

	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/locks/lockstest/synth"
)

// BenchmarkText renders the text report of 200 sessions holding 10,000
// locks (synthetic: no server), the verdicts included: with --lock-id (one
// line per session's keys) and without (every lock of Connect's user on its
// own line, marked "possibly Connect's upgrade lock").
func BenchmarkText(b *testing.B) {
	snap := synth.Synthetic(200, 50)
	ios, _, _, _ := iostreams.Test()
	cs := ios.ColorScheme()
	id := locks.BigintKey(4242)
	for _, bc := range []struct {
		name string
		id   *locks.Key
	}{{"lock-id", &id}, {"guess", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rep := locks.BuildReport(snap, bc.id, "--lock-id", "connect", 0)
				Text(io.Discard, cs, rep, false)
			}
		})
	}
}
