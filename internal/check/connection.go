package check

import (
	"fmt"
	"strings"

	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/target"
)

// connectionInfo is the connection-setup report of t for the report's
// targets; nil when the target was not built or live checks were skipped.
func connectionInfo(t *target.Target, liveSkip string) *target.Connection {
	if t == nil || liveSkip != "" {
		return nil
	}
	c := t.Connection()
	return &c
}

// reachedHost names the host that answered, falling back to the URL's.
func reachedHost(t *target.Target) string {
	if h := t.Connection().Host; h != "" {
		return h
	}
	return fmt.Sprintf("%s:%d", t.Host, t.Port)
}

// writeConnection writes a target's connection-setup report under its
// header, once per target.
func writeConnection(b *strings.Builder, cs *iostreams.ColorScheme, c *target.Connection) {
	if c == nil {
		return
	}
	var block strings.Builder
	c.WriteText(&block, "  ")
	for _, line := range strings.SplitAfter(block.String(), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "  warning:") {
			b.WriteString(cs.Yellow(strings.TrimSuffix(line, "\n")) + "\n")
			continue
		}
		b.WriteString(cs.Gray(strings.TrimSuffix(line, "\n")) + "\n")
	}
}

// countWarnings is "1 warning" or "N warnings".
func countWarnings(n int) string { return fmt.Sprintf("%d %s", n, plural(n, "warning", "warnings")) }
