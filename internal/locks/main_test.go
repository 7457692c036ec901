package locks

import (
	"os"
	"testing"

	"github.com/connectdb/connectdb/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	code := pgtest.Run(m, pgtest.Options{}, &srv)
	stopBenchFixture()
	os.Exit(code)
}
