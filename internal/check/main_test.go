package check

import (
	"os"
	"testing"

	"github.com/connectdb/connectdb/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, pgtest.Options{TLS: true}, &srv)) }
