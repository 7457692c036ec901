// Package locks finds, explains and frees PostgreSQL advisory locks, such as
// the lock Posit Connect takes so that only one node migrates the schema
// during an upgrade.
//
// PostgreSQL has two kinds of advisory lock key, and pg_locks shows both in
// the classid, objid and objsubid columns:
//
//   - one bigint (pg_advisory_lock(bigint)): classid holds the high 32 bits,
//     objid the low 32 bits, objsubid is 1;
//   - two int4 (pg_advisory_lock(int, int)): classid holds the first value,
//     objid the second, objsubid is 2.
//
// Key decodes and encodes both forms.
package locks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// EnvLockID names the environment variable that gives Connect's upgrade lock
// ID when --lock-id is not given.
const EnvLockID = "CONNECTDB_LOCK_ID"

// Key is an advisory lock key in either of PostgreSQL's two forms. The zero
// value is the bigint key 0.
type Key struct {
	// Pair is true for the two-int4 form (objsubid 2), false for the bigint
	// form (objsubid 1).
	Pair bool
	// Hi and Lo are pg_locks.classid and pg_locks.objid as stored: the high
	// and low halves of the bigint, or the two int4 values bit for bit.
	Hi, Lo uint32
}

// BigintKey returns the key taken by pg_advisory_lock(id).
func BigintKey(id int64) Key {
	return Key{Hi: uint32(uint64(id) >> 32), Lo: uint32(uint64(id))}
}

// PairKey returns the key taken by pg_advisory_lock(a, b).
func PairKey(a, b int32) Key {
	return Key{Pair: true, Hi: uint32(a), Lo: uint32(b)}
}

// FromPgLocks decodes the classid, objid and objsubid columns of an advisory
// row of pg_locks.
func FromPgLocks(classid, objid uint32, objsubid int16) (Key, error) {
	switch objsubid {
	case 1:
		return Key{Hi: classid, Lo: objid}, nil
	case 2:
		return Key{Pair: true, Hi: classid, Lo: objid}, nil
	}
	return Key{}, fmt.Errorf("pg_locks advisory row has objsubid %d; expected 1 (bigint key) or 2 (two int4 keys)", objsubid)
}

// PgLocks returns the classid, objid and objsubid values pg_locks shows for k.
func (k Key) PgLocks() (classid, objid uint32, objsubid int16) {
	if k.Pair {
		return k.Hi, k.Lo, 2
	}
	return k.Hi, k.Lo, 1
}

// Bigint returns the bigint of a bigint key; for a pair key it returns the
// pair's bits read as one bigint, which is not a key PostgreSQL would match.
func (k Key) Bigint() int64 { return int64(uint64(k.Hi)<<32 | uint64(k.Lo)) }

// Ints returns the two int4 values of a pair key.
func (k Key) Ints() (int32, int32) { return int32(k.Hi), int32(k.Lo) }

// Form names the key's form: "bigint" or "int4,int4".
func (k Key) Form() string {
	if k.Pair {
		return "int4,int4"
	}
	return "bigint"
}

// String returns the key as ParseKey accepts it: "12345" or "1,2".
func (k Key) String() string {
	var b [24]byte
	return string(k.Append(b[:0]))
}

// Append appends the key as String writes it to b.
func (k Key) Append(b []byte) []byte {
	if k.Pair {
		x, y := k.Ints()
		b = strconv.AppendInt(b, int64(x), 10)
		b = append(b, ',')
		return strconv.AppendInt(b, int64(y), 10)
	}
	return strconv.AppendInt(b, k.Bigint(), 10)
}

// MarshalText encodes k as String does, so JSON shows "12345" or "1,2".
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes what MarshalText wrote.
func (k *Key) UnmarshalText(b []byte) error {
	p, err := ParseKey(string(b))
	if err != nil {
		return err
	}
	*k = p
	return nil
}

// ParseKey reads an advisory lock key: a bigint such as "4242" or
// "-9000000000", or two int4 values "a,b" such as "10,20". Spaces around the
// numbers and surrounding parentheses are accepted.
func ParseKey(s string) (Key, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "(") && strings.HasSuffix(t, ")") {
		t = strings.TrimSpace(t[1 : len(t)-1])
	}
	if t == "" {
		return Key{}, errors.New("empty lock ID; give a bigint such as 4242 or two integers such as 10,20")
	}
	if a, b, ok := strings.Cut(t, ","); ok {
		x, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 32)
		y, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if err1 != nil || err2 != nil {
			return Key{}, fmt.Errorf("lock ID %q is not two integers between -2147483648 and 2147483647 such as 10,20", s)
		}
		return PairKey(int32(x), int32(y)), nil
	}
	id, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return Key{}, fmt.Errorf("lock ID %q is not a bigint such as 4242 or two integers such as 10,20", s)
	}
	return BigintKey(id), nil
}

// LockIDFromFlagOrEnv returns the lock ID from flagValue (the --lock-id flag)
// or, when that is empty, from the CONNECTDB_LOCK_ID variable read with
// getenv. It returns nil, nil when neither is set. Errors name the source.
func LockIDFromFlagOrEnv(flagValue string, getenv func(string) string) (*Key, error) {
	src, v := "--lock-id", flagValue
	if strings.TrimSpace(v) == "" && getenv != nil {
		src, v = EnvLockID, getenv(EnvLockID)
	}
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	k, err := ParseKey(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return &k, nil
}

// sqlCall returns "fn($1::bigint)" or "fn($1::int4, $2::int4)" and the
// arguments for k.
func (k Key) sqlCall(fn string) (string, []any) {
	if k.Pair {
		a, b := k.Ints()
		return "SELECT " + fn + "($1::int4, $2::int4)", []any{a, b}
	}
	return "SELECT " + fn + "($1::bigint)", []any{k.Bigint()}
}

// TryLockSQL returns the statement and arguments that try to take k as a
// session-level exclusive lock without waiting; it yields one boolean.
func (k Key) TryLockSQL() (string, []any) { return k.sqlCall("pg_try_advisory_lock") }

// TryLockSharedSQL is TryLockSQL for a shared lock.
func (k Key) TryLockSharedSQL() (string, []any) { return k.sqlCall("pg_try_advisory_lock_shared") }

// LockSQL returns the statement that waits for k as a session-level
// exclusive lock.
func (k Key) LockSQL() (string, []any) { return k.sqlCall("pg_advisory_lock") }

// UnlockSQL returns the statement that releases one session-level exclusive
// hold of k by the session that runs it; it yields one boolean.
func (k Key) UnlockSQL() (string, []any) { return k.sqlCall("pg_advisory_unlock") }

// TryLock tries to take k on conn without waiting and reports whether it got
// it. The lock stays until Unlock or until conn closes.
func (k Key) TryLock(ctx context.Context, conn *pgx.Conn) (bool, error) {
	q, args := k.TryLockSQL()
	var ok bool
	if err := conn.QueryRow(ctx, q, args...).Scan(&ok); err != nil {
		return false, fmt.Errorf("trying advisory lock %s: %w", k, err)
	}
	return ok, nil
}

// Unlock releases one hold of k taken by conn's own session and reports
// whether there was one to release. It cannot release another session's lock.
func (k Key) Unlock(ctx context.Context, conn *pgx.Conn) (bool, error) {
	q, args := k.UnlockSQL()
	var ok bool
	if err := conn.QueryRow(ctx, q, args...).Scan(&ok); err != nil {
		return false, fmt.Errorf("releasing advisory lock %s: %w", k, err)
	}
	return ok, nil
}
