// Command benchserver starts the show-locks benchmark scene (a dedicated
// PostgreSQL server where 200 backends hold 10,000 advisory locks), prints
// its URL on stdout and keeps it up until its standard input is closed.
// scripts/bench-locks.sh runs it.
//
//	go run ./internal/locks/lockstest/benchserver [-backends 200] [-locks 10000]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/connectdb/connectdb/internal/locks/lockstest"
)

func main() {
	backends := flag.Int("backends", 200, "sessions holding locks")
	nlocks := flag.Int("locks", 10000, "advisory locks held in all")
	flag.Parse()
	if *backends < 1 || *backends > 5000 || *nlocks < *backends || *nlocks > 1000000 {
		fmt.Fprintln(os.Stderr, "benchserver: -backends must be 1 to 5000 and -locks from -backends to 1000000")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b, err := lockstest.StartBench(ctx, *backends, *nlocks)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
	fmt.Println(b.URL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	b.Stop()
}
