package showlocks

import (
	"testing"

	"github.com/connectdb/connectdb/internal/pgtest"
)

// Server and StuckScenario let the external hint test reuse this
// package's server and lock scene.
func Server() *pgtest.Server { return srv }

func StuckScenario(t *testing.T) string { return scenario(t) }
