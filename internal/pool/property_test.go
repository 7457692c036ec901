package pool

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/config"
)

var (
	allInstrumentation = []Instrumentation{MetricsSame, MetricsSeparate, MetricsOff}
	allPoolers         = []Pooler{PoolerNone, PoolerSession, PoolerTransaction}
)

// randomInput draws a valid input from small, realistic ranges.
func randomInput(r *rand.Rand) Input {
	return Input{
		Nodes: 1 + r.IntN(30),
		Server: Server{
			MaxConnections:    1 + r.IntN(1000),
			SuperuserReserved: r.IntN(10),
			Reserved:          r.IntN(5),
			Others:            r.IntN(100),
			Reserve:           r.IntN(20),
		},
		Instrumentation: allInstrumentation[r.IntN(3)],
		Pooler:          allPoolers[r.IntN(3)],
		Current: Settings{
			MaxOpen:     r.IntN(60) - 5,
			MaxIdle:     r.IntN(60) - 5,
			MaxLifetime: time.Duration(r.IntN(7200)) * time.Second,
			LifetimeSet: r.IntN(2) == 0,
		},
		TargetOpen: r.IntN(80),
	}
}

// checkInvariants is what must hold for every valid input.
func checkInvariants(in Input) error {
	p := Size(in)
	ev, rec := p.Evaluation, p.Recommendation
	avail := in.Server.Available()
	pools := PoolsPerNode(in.Instrumentation)

	// The recommendation never exceeds what the server can give, unless it
	// says it is infeasible, which happens exactly when one per pool does not fit.
	if rec.Feasible && rec.WorstCase > avail {
		return fmt.Errorf("feasible recommendation needs %d but only %d are available", rec.WorstCase, avail)
	}
	if rec.Feasible != (avail >= in.Nodes*pools) {
		return fmt.Errorf("feasible = %v with %d available for %d nodes × %d pools", rec.Feasible, avail, in.Nodes, pools)
	}
	if rec.MaxOpen < 1 {
		return fmt.Errorf("recommended MaxOpen %d would leave the pool unbounded", rec.MaxOpen)
	}
	// Idle is a subset of open.
	if rec.MaxIdle < 0 || rec.MaxIdle > rec.MaxOpen {
		return fmt.Errorf("recommended idle %d outside 0..%d", rec.MaxIdle, rec.MaxOpen)
	}
	if e := EffectiveIdle(in.Current); in.Current.MaxOpen > 0 && e > in.Current.MaxOpen {
		return fmt.Errorf("effective idle %d above open %d", e, in.Current.MaxOpen)
	}
	// Doubling applies exactly when metrics share the server.
	if (pools == 2) != (in.Instrumentation == MetricsSame) || ev.PoolsPerNode != pools {
		return fmt.Errorf("pools per node %d/%d for %s", pools, ev.PoolsPerNode, in.Instrumentation)
	}
	if ev.Bounded && ev.WorstCase != in.Nodes*in.Current.MaxOpen*pools {
		return fmt.Errorf("worst case %d is not %d × %d × %d", ev.WorstCase, in.Nodes, in.Current.MaxOpen, pools)
	}
	if rec.WorstCase != in.Nodes*rec.MaxOpen*pools {
		return fmt.Errorf("recommended worst case %d is not %d × %d × %d", rec.WorstCase, in.Nodes, rec.MaxOpen, pools)
	}
	// The recommendation takes the desired value whenever it fits.
	if rec.Feasible && rec.MaxOpen != min(rec.DesiredOpen, PerNodeBudget(in.Nodes, in.Instrumentation, in.Server)) {
		return fmt.Errorf("recommended %d, desired %d, budget %d", rec.MaxOpen, rec.DesiredOpen, PerNodeBudget(in.Nodes, in.Instrumentation, in.Server))
	}
	// max_connections must be raised exactly when the desired value does not fit.
	if rec.RaiseMaxConnections != (rec.RequiredMaxConnections > in.Server.MaxConnections) {
		return fmt.Errorf("raise = %v but required %d vs max %d", rec.RaiseMaxConnections, rec.RequiredMaxConnections, in.Server.MaxConnections)
	}
	// Fits agrees with the capacity verdict, and a fail anywhere means the whole fails.
	var capacity Verdict
	for _, c := range ev.Checks {
		if c.ID == CheckCapacity {
			capacity = c.Verdict
		}
		if c.Message == "" {
			return fmt.Errorf("check %s has no message", c.ID)
		}
	}
	if (capacity == Pass) != ev.Fits {
		return fmt.Errorf("capacity verdict %s but fits = %v", capacity, ev.Fits)
	}
	if !ev.Fits && ev.Verdict() != Fail {
		return fmt.Errorf("a config that does not fit has overall verdict %s", ev.Verdict())
	}
	return nil
}

func TestPropertiesHoldForRandomInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		in := randomInput(r)
		if err := in.Validate(); err != nil {
			t.Fatalf("random input %d invalid: %v", i, err)
		}
		if err := checkInvariants(in); err != nil {
			t.Fatalf("input %+v: %v", in, err)
		}
	}
}

func TestPropertyDoublingOnlyWhenMetricsShareTheServer(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		in := randomInput(r)
		in.Current.MaxOpen = 1 + r.IntN(50)
		same, separate, off := in, in, in
		same.Instrumentation, separate.Instrumentation, off.Instrumentation = MetricsSame, MetricsSeparate, MetricsOff
		ws, wp, wo := Evaluate(same).WorstCase, Evaluate(separate).WorstCase, Evaluate(off).WorstCase
		if ws != 2*wp || wp != wo {
			t.Fatalf("worst cases same/separate/off = %d/%d/%d for %+v; want same = 2 × the others", ws, wp, wo, in)
		}
	}
}

func TestPropertyMoreNodesNeverNeedLess(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		in := randomInput(r)
		rows := Sweep(in)
		for i := 1; i < len(rows); i++ {
			if rows[i].RequiredMaxConnections < rows[i-1].RequiredMaxConnections || rows[i].RecommendedOpen > rows[i-1].RecommendedOpen {
				t.Fatalf("sweep not monotonic at %d nodes: %+v then %+v", rows[i].Nodes, rows[i-1], rows[i])
			}
		}
	}
}

// FuzzSize drives the rules with arbitrary integers: they must never panic,
// and every valid input must satisfy the invariants.
func FuzzSize(f *testing.F) {
	f.Add(1, 100, 3, 0, 0, 0, 10, 5, int64(60e9), 0, uint8(0), uint8(0))
	f.Add(10, 20, 3, 2, 4, 1, 10, 0, int64(0), 40, uint8(1), uint8(1))
	f.Add(3, 1, 0, 0, 0, 0, -1, 99, int64(-1), 0, uint8(2), uint8(2))
	f.Add(1<<30, 1<<30, 0, 0, 0, 0, 1<<30, 1<<30, int64(1), 1<<30, uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, nodes, maxConn, su, reserved, others, reserve, open, idle int, life int64, target int, instr, pooler uint8) {
		in := Input{
			Nodes:           nodes,
			Server:          Server{MaxConnections: maxConn, SuperuserReserved: su, Reserved: reserved, Others: others, Reserve: reserve},
			Instrumentation: allInstrumentation[int(instr)%3],
			Pooler:          allPoolers[int(pooler)%3],
			Current:         Settings{MaxOpen: open, MaxIdle: idle, MaxLifetime: time.Duration(life), LifetimeSet: life%2 == 0},
			TargetOpen:      target,
		}
		if in.Validate() != nil {
			return
		}
		// Keep products within what the invariant arithmetic can hold;
		// the rules themselves must still not panic beyond that.
		p := Size(in)
		_ = FormatDuration(p.Recommendation.MaxLifetime)
		const big = 1 << 20
		if nodes > big || maxConn > big || su > big || reserved > big || others > big || reserve > big || open > big || target > big {
			return
		}
		if err := checkInvariants(in); err != nil {
			t.Fatalf("input %+v: %v", in, err)
		}
	})
}

// FuzzFormatDuration: whatever Connect accepts as a duration, FormatDuration
// writes in a form that reads back as the same value.
func FuzzFormatDuration(f *testing.F) {
	for _, s := range []string{"60s", "1000000000", "1h30m", "-5m", "", "9223372036854775807", "-9223372036854775808", "1.5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := config.ParseDuration(s)
		if err != nil {
			return
		}
		back, err := config.ParseDuration(FormatDuration(d))
		if err != nil || back != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, d, FormatDuration(d), back, err)
		}
	})
}

// BenchmarkSweep sizes the largest sweep size-pool allows (1000 nodes).
func BenchmarkSweep(b *testing.B) {
	in := Input{Nodes: 1000, Server: Server{MaxConnections: 5000, SuperuserReserved: 3}, Instrumentation: MetricsSame,
		Pooler: PoolerNone, Current: Settings{MaxOpen: DefaultMaxOpen, MaxIdle: DefaultMaxIdle}}
	for b.Loop() {
		if rows := Sweep(in); len(rows) != 1000 {
			b.Fatal(len(rows))
		}
	}
}
