// Command gensqlite writes a generated Connect-like SQLite database, for
// scripts/bench-migrate.sh: gensqlite PATH ROWS.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/connectdb/connectdb/internal/migrate/sqlitegen"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gensqlite PATH ROWS")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gensqlite: ROWS must be an integer")
		os.Exit(2)
	}
	if err := sqlitegen.Generate(context.Background(), os.Args[1], n, 1); err != nil {
		fmt.Fprintln(os.Stderr, "gensqlite:", err)
		os.Exit(1)
	}
}
