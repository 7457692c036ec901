package check

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/connerr"
	"github.com/connectdb/connectdb/internal/target"
)

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	rep := liveRun(t, "postgres://connect:pw@127.0.0.1:"+strconv.Itoa(port)+"/connect?sslmode=disable", nil)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Fail, connerr.Unreachable, "listen_addresses")
	if rep.ExitCode(false) != 3 {
		t.Fatalf("exit %d, want 3", rep.ExitCode(false))
	}
}

func TestCertificateVerifyFailed(t *testing.T) {
	role, db, _ := ownedDB(t)
	// The system trust store does not know the test CA.
	rep := liveRun(t, srv.URL(role, pw, db, "sslmode=verify-full", "sslrootcert=system"), nil)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Fail, connerr.CertificateVerify, "sslrootcert")
}

func TestRoleAndDatabaseConnectionLimits(t *testing.T) {
	role, db, url := ownedDB(t)
	srv.MustExec(t, "postgres", "ALTER ROLE "+role+" CONNECTION LIMIT 5")
	wantStatus(t, liveRun(t, url, nil), ScopePrimary, "pool.max-connections", Fail, "CONNECTION LIMIT", "ALTER ROLE "+role+" CONNECTION LIMIT 20")
	srv.MustExec(t, "postgres", "ALTER ROLE "+role+" CONNECTION LIMIT -1; ALTER DATABASE "+db+" CONNECTION LIMIT 15")
	wantStatus(t, liveRun(t, url, nil), ScopePrimary, "pool.max-connections", Fail, "ALTER DATABASE "+db+" CONNECTION LIMIT 20")
}

// TestServerSlotsExhausted fills a small server so that the next
// connection is refused with SQLSTATE 53300.
func TestServerSlotsExhausted(t *testing.T) {
	small := startSmall(t, 8)
	role := small.NewRole(t, pw)
	db := small.NewDatabase(t, role)
	url := small.URL(role, pw, db, "sslmode=disable")
	// max_connections 8 minus 3 reserved: 5 ordinary slots.
	for range 5 {
		small.Conn(t, db) // superuser over the socket, in an ordinary slot
	}
	rep := liveRun(t, url, nil)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Fail, connerr.TooManyConnections, "max_connections")
}

// delayProxy forwards TCP to addr, delaying every chunk by delay.
func delayProxy(t *testing.T, addr string, delay time.Duration) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				time.Sleep(delay)
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			wg.Go(func() { pipe(s, c) })
			wg.Go(func() { pipe(c, s) })
		}
	})
	return l.Addr().String()
}

func TestLatencySlowNetwork(t *testing.T) {
	role, db, _ := ownedDB(t)
	addr := delayProxy(t, net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)), 30*time.Millisecond)
	_, port, _ := net.SplitHostPort(addr)
	url := "postgres://" + role + ":" + pw + "@127.0.0.1:" + port + "/" + db + "?sslmode=verify-full&sslrootcert=" + srv.CACertFile
	rep := liveRun(t, url, func(o *Options) {
		sel, _ := Select([]string{"pg.latency"}, nil)
		o.Selected = sel
	})
	wantStatus(t, rep, ScopePrimary, "pg.latency", Warn, "Round trip to the server takes")
}

func TestFactBasedChecks(t *testing.T) {
	remote := &target.Target{Host: "db.example.com", Port: 5432}
	lc := &liveCtx{target: remote, env: &runEnv{in: &Input{}}, scope: ScopePrimary}
	if o := checkTLS(lc); o.Status != Warn {
		t.Errorf("unencrypted remote: %s", o.Status)
	}
	lc.facts.SSL, lc.facts.SSLVersion = true, "TLSv1.3"
	if o := checkTLS(lc); o.Status != Pass {
		t.Errorf("encrypted: %s", o.Status)
	}
	lc.facts = facts{InRecovery: true, DefaultRO: "off"}
	if o := checkReadWrite(lc); o.Status != Fail || !strings.Contains(o.Remedy, "primary server") {
		t.Errorf("standby: %+v", o)
	}
	lc.facts = facts{Encoding: "LATIN1", Database: "connect"}
	if o := checkDBEncoding(lc); o.Status != Warn {
		t.Errorf("latin1: %+v", o)
	}
}
