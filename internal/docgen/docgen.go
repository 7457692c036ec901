// Package docgen renders connectdb's manual pages from its command tree, so
// the pages say exactly what `--help` says.
package docgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/connectdb/connectdb/internal/cmd/root"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
)

// Date is the date printed in every page's footer. It is fixed, not the
// build time, so that generating the pages twice gives the same bytes.
var Date = time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)

// Man writes connectdb(1) and one connectdb-COMMAND(1) page per command into
// dir, which must exist.
func Man(dir string) error {
	io, _, _, _ := iostreams.Test()
	cmd := root.NewCmdRoot(cmdutil.NewFactory(io))
	cmd.InitDefaultCompletionCmd()
	cmd.InitDefaultHelpCmd()
	disableAutoGenTag(cmd)
	header := &doc.GenManHeader{
		Title:   "CONNECTDB",
		Section: "1",
		Source:  "connectdb",
		Manual:  "connectdb manual",
		Date:    &Date,
	}
	if err := doc.GenManTree(cmd, header, dir); err != nil {
		return fmt.Errorf("writing manual pages into %s: %w", dir, err)
	}
	return nil
}

func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}

// Stale compares the pages in dir with freshly generated ones and returns
// the names of pages that differ, are missing or should not be there.
func Stale(dir string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "connectdb-man-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := Man(tmp); err != nil {
		return nil, err
	}
	want, err := pages(tmp)
	if err != nil {
		return nil, err
	}
	have, err := pages(dir)
	if err != nil {
		return nil, err
	}
	var stale []string
	for name, w := range want {
		if h, ok := have[name]; !ok || h != w {
			stale = append(stale, name)
		}
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			stale = append(stale, name)
		}
	}
	return stale, nil
}

func pages(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".1") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		m[e.Name()] = string(b)
	}
	return m, nil
}
