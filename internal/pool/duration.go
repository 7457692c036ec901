package pool

import (
	"fmt"
	"time"
)

// FormatDuration writes d the way an admin would type it in a gcfg file
// (Connect reads durations in Go's syntax or as nanoseconds):
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
