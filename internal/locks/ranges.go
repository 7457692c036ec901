package locks

import (
	"fmt"
	"strconv"
	"time"
)

// DurationRange is the documented range of a duration flag of show-locks or
// release-locks.
type DurationRange struct {
	Flag     string
	Min, Max time.Duration
	Example  string
}

// The ranges of the lock commands' duration flags (docs/show-locks.md,
// docs/release-locks.md).
var (
	StuckAfterRange = DurationRange{Flag: "--stuck-after", Min: time.Second, Max: 720 * time.Hour, Example: "1m"}
	GraceRange      = DurationRange{Flag: "--grace", Min: 100 * time.Millisecond, Max: time.Hour, Example: "5s"}
	WaitRange       = DurationRange{Flag: "--wait", Min: time.Second, Max: time.Hour, Example: "10s"}
)

// Check returns a one-line error naming the flag and its range when d is
// outside r.
func (r DurationRange) Check(d time.Duration) error {
	if d >= r.Min && d <= r.Max {
		return nil
	}
	return fmt.Errorf("%s must be between %s and %s, such as %s (got %s)", r.Flag, shortDuration(r.Min), shortDuration(r.Max), r.Example, d)
}

// String is the range as the docs print it: "1s to 720h".
func (r DurationRange) String() string {
	return shortDuration(r.Min) + " to " + shortDuration(r.Max)
}

// shortDuration prints a round duration without trailing zero units: 720h,
// 100ms, 1s.
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
