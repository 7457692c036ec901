package locks

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"testing/quick"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		in      string
		want    Key
		str     string
		wantErr bool
	}{
		{in: "0", want: Key{}, str: "0"},
		{in: "4242", want: BigintKey(4242), str: "4242"},
		{in: " -1 ", want: Key{Hi: math.MaxUint32, Lo: math.MaxUint32}, str: "-1"},
		{in: "9223372036854775807", want: Key{Hi: 0x7fffffff, Lo: math.MaxUint32}, str: "9223372036854775807"},
		{in: "-9223372036854775808", want: Key{Hi: 0x80000000}, str: "-9223372036854775808"},
		{in: "4294967296", want: Key{Hi: 1, Lo: 0}, str: "4294967296"},
		{in: "10,20", want: Key{Pair: true, Hi: 10, Lo: 20}, str: "10,20"},
		{in: "(10, 20)", want: PairKey(10, 20), str: "10,20"},
		{in: "-1,-2", want: Key{Pair: true, Hi: math.MaxUint32, Lo: math.MaxUint32 - 1}, str: "-1,-2"},
		{in: "2147483647,-2147483648", want: PairKey(math.MaxInt32, math.MinInt32), str: "2147483647,-2147483648"},
		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "1,", wantErr: true},
		{in: "1,2,3", wantErr: true},
		{in: "2147483648,1", wantErr: true},
		{in: "9223372036854775808", wantErr: true},
		{in: "1.5", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseKey(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseKey(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseKey(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseKey(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		if got.String() != tt.str {
			t.Errorf("ParseKey(%q).String() = %q, want %q", tt.in, got.String(), tt.str)
		}
	}
}

func TestKeyRoundTripProperties(t *testing.T) {
	bigint := func(id int64) bool {
		k := BigintKey(id)
		p, err := ParseKey(k.String())
		c, o, s := k.PgLocks()
		d, err2 := FromPgLocks(c, o, s)
		return err == nil && err2 == nil && p == k && d == k && k.Bigint() == id && s == 1
	}
	pair := func(a, b int32) bool {
		k := PairKey(a, b)
		p, err := ParseKey(k.String())
		c, o, s := k.PgLocks()
		d, err2 := FromPgLocks(c, o, s)
		x, y := k.Ints()
		return err == nil && err2 == nil && p == k && d == k && x == a && y == b && s == 2
	}
	if err := quick.Check(bigint, nil); err != nil {
		t.Error(err)
	}
	if err := quick.Check(pair, nil); err != nil {
		t.Error(err)
	}
}

func TestFromPgLocksRejectsOtherSubIDs(t *testing.T) {
	for _, sub := range []int16{0, 3, -1} {
		if _, err := FromPgLocks(1, 2, sub); err == nil {
			t.Errorf("FromPgLocks(1, 2, %d) accepted", sub)
		}
	}
}

func TestLockIDFromFlagOrEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == EnvLockID {
				return v
			}
			return ""
		}
	}
	k, err := LockIDFromFlagOrEnv("", env(""))
	if k != nil || err != nil {
		t.Fatalf("nothing set: got %v, %v", k, err)
	}
	k, err = LockIDFromFlagOrEnv("", env("7,8"))
	if err != nil || k == nil || *k != PairKey(7, 8) {
		t.Fatalf("env: got %v, %v", k, err)
	}
	k, err = LockIDFromFlagOrEnv("99", env("7,8"))
	if err != nil || k == nil || *k != BigintKey(99) {
		t.Fatalf("flag wins: got %v, %v", k, err)
	}
	_, err = LockIDFromFlagOrEnv("", env("x"))
	if err == nil || !strings.Contains(err.Error(), EnvLockID) {
		t.Fatalf("bad env value: error %v does not name %s", err, EnvLockID)
	}
	_, err = LockIDFromFlagOrEnv("x", nil)
	if err == nil || !strings.Contains(err.Error(), "--lock-id") {
		t.Fatalf("bad flag value: error %v does not name --lock-id", err)
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"0", "-1", "10,20", "(1,2)", " 5 ", "1,", "9223372036854775808", "a,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		again, err := ParseKey(k.String())
		if err != nil || again != k {
			t.Fatalf("ParseKey(%q) = %v; reparsing %q gave %v, %v", s, k, k.String(), again, err)
		}
	})
}

// TestKeyMatchesPgLocks takes each form of key in a real session and checks
// that pg_locks shows exactly the columns Key predicts.
func TestKeyMatchesPgLocks(t *testing.T) {
	ctx := context.Background()
	conn := srv.Conn(t, "postgres")
	keys := []Key{BigintKey(0), BigintKey(4242), BigintKey(-1), BigintKey(math.MinInt64), BigintKey(1 << 40),
		PairKey(10, 20), PairKey(-1, -2), PairKey(math.MinInt32, math.MaxInt32)}
	for _, k := range keys {
		ok, err := k.TryLock(ctx, conn)
		if err != nil || !ok {
			t.Fatalf("TryLock(%v) = %v, %v", k, ok, err)
		}
		var classid, objid uint32
		var objsubid int16
		if err := conn.QueryRow(ctx, `SELECT classid, objid, objsubid FROM pg_locks
			WHERE locktype = 'advisory' AND pid = pg_backend_pid()`).Scan(&classid, &objid, &objsubid); err != nil {
			t.Fatalf("%v: reading pg_locks: %v", k, err)
		}
		got, err := FromPgLocks(classid, objid, objsubid)
		if err != nil || got != k {
			t.Errorf("pg_locks shows %d/%d/%d, decoded %v (%v); took %v", classid, objid, objsubid, got, err, k)
		}
		released, err := k.Unlock(ctx, conn)
		if err != nil || !released {
			t.Fatalf("Unlock(%v) = %v, %v", k, released, err)
		}
	}
}

// FuzzParseInt: the allocation-free decoder of pg_locks' integer columns
// agrees with strconv on every input.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-1", "2147483647", "-2147483648", "2147483648", "4294967295", "4294967296", "", "-", "+1", "01", " 1", "99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseInt([]byte(s), true)
		want, err := strconv.ParseInt(s, 10, 32)
		if ok != (err == nil && !strings.HasPrefix(s, "+")) || ok && n != want {
			t.Errorf("signed %q: got %d %v, strconv %d %v", s, n, ok, want, err)
		}
		u, ok := parseInt([]byte(s), false)
		wantU, err := strconv.ParseUint(s, 10, 32)
		if ok != (err == nil) || ok && uint64(u) != wantU {
			t.Errorf("unsigned %q: got %d %v, strconv %d %v", s, u, ok, wantU, err)
		}
	})
}
