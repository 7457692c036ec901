package cmdutil

import (
	"os"
	"testing"
)

// TestIsolatePGEnv: every PG* variable leaves the process, where pgx would
// read it, and stays readable through the returned getenv; other variables
// are read live.
func TestIsolatePGEnv(t *testing.T) {
	t.Setenv("PGPORT", "6543")
	t.Setenv("PGSSLROOTCERT", "/shell/root.crt")
	t.Setenv("PGSOMETHING_NEW", "x") // one pgx may learn to read later
	t.Setenv("CONNECTDB_ISOLATE_TEST", "before")
	getenv := IsolatePGEnv()
	for _, k := range []string{"PGPORT", "PGSSLROOTCERT", "PGSOMETHING_NEW"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%q is still in the process", k, v)
		}
	}
	if getenv("PGPORT") != "6543" || getenv("PGSSLROOTCERT") != "/shell/root.crt" || getenv("PGHOSTADDR") != "" {
		t.Errorf("getenv: PGPORT %q, PGSSLROOTCERT %q, PGHOSTADDR %q", getenv("PGPORT"), getenv("PGSSLROOTCERT"), getenv("PGHOSTADDR"))
	}
	os.Setenv("CONNECTDB_ISOLATE_TEST", "after")
	os.Setenv("PGPORT", "1") // set again later: not what connectdb was started with
	if getenv("CONNECTDB_ISOLATE_TEST") != "after" || getenv("PGPORT") != "6543" {
		t.Errorf("getenv: CONNECTDB_ISOLATE_TEST %q, PGPORT %q", getenv("CONNECTDB_ISOLATE_TEST"), getenv("PGPORT"))
	}
}
