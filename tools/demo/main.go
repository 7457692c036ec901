// Command demo starts a throwaway PostgreSQL server with the test harness and
// runs connectdb against it, so a new user sees the main job end to end:
//
//	go run ./tools/demo ./bin/connectdb
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/connectdb/connectdb/internal/pgtest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./tools/demo PATH-TO-CONNECTDB")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Println("== starting a throwaway PostgreSQL server (TLS on)")
	srv, err := pgtest.Start(ctx, pgtest.Options{TLS: true})
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("   PostgreSQL %s on %s:%d\n", srv.Version, srv.Host, srv.Port)

	steps := [][]string{
		{"version"},
	}
	for _, args := range steps {
		fmt.Printf("\n$ connectdb %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Printf("(exit: %v)\n", err)
		}
	}
	return nil
}
