package showlocks

import (
	"io"
	"testing"

	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/locks/lockstest/synth"
)

// BenchmarkText renders the text report of 200 sessions holding 10,000
// locks (synthetic: no server), the verdicts included.
func BenchmarkText(b *testing.B) {
	snap := synth.Synthetic(200, 50)
	ios, _, _, _ := iostreams.Test()
	cs := ios.ColorScheme()
	b.ReportAllocs()
	for b.Loop() {
		rep := locks.BuildReport(snap, nil, "", "connect", 0)
		Text(io.Discard, cs, rep, false)
	}
}
