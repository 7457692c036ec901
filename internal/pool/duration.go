package pool

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a Connect duration setting such as
// ConnectionMaxLifetime: either an integer count of nanoseconds
// ("1000000000" is one second) or a Go duration ("60s", "1h30m").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration; use a value such as 60s")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; use a value such as 60s, 5m or a count of nanoseconds", s)
	}
	return d, nil
}

// FormatDuration writes d the way an admin would type it in a gcfg file:
// "60s", "90s", "5m", "1h"; anything else in Go's own form ("1h30m0s").
func FormatDuration(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d > 0 && d%time.Second == 0 && d <= 2*time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
