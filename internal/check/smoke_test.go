package check

import (
	"context"
	"os"
	"testing"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/target"
)

func TestSmoke(t *testing.T) {
	role := srv.NewRole(t, "pw")
	db := srv.NewDatabase(t, role)
	u := srv.URL(role, "pw", db)
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IO: ios, Globals: &cmdutil.Globals{URL: u}, Getenv: os.Getenv}
	set, err := target.Resolve(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{Primary: &URLInput{Scope: ScopePrimary, URL: u, Source: "--url"}, MaxOpenConnections: 10, MaxIdleConnections: 5}
	rep, err := Run(context.Background(), Options{Input: in, Targets: set.Targets(), SharedMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteText(os.Stdout, TextOptions{Verbose: true})
}
