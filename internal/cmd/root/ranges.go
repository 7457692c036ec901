package root

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/connectdb/connectdb/internal/cmdutil"
)

// maxBackends is PostgreSQL's largest max_connections (MAX_BACKENDS,
// 2^18-1): no count of connections or nodes can usefully exceed it, and
// keeping counts below it keeps every product in size-pool far from
// overflowing.
const maxBackends = 262143

// flagRange is the documented range of a numeric flag (docs/global-flags.md
// lists them all). Durations are in nanoseconds.
type flagRange struct {
	min, max int64
	shown    string // the range as the docs and messages write it
	duration bool
}

func countRange(min int64) flagRange {
	return flagRange{min: min, max: maxBackends, shown: fmt.Sprintf("%d to %d", min, maxBackends)}
}

func durationRange(min, max time.Duration, shown string) flagRange {
	return flagRange{min: int64(min), max: int64(max), shown: shown, duration: true}
}

// format shows v (a count, or nanoseconds) as the flag is written.
func (r flagRange) format(v int64) string {
	if r.duration {
		return time.Duration(v).String()
	}
	return strconv.FormatInt(v, 10)
}

// what names the kind of value to pass.
func (r flagRange) what() string {
	if r.duration {
		return "a duration such as 10s or 5m"
	}
	return "a whole number"
}

// flagRanges holds every numeric flag whose range Run enforces, by flag
// name: a flag of that name means the same in every command. The durations
// of show-locks and release-locks that judge a lock holder (--stuck-after,
// --grace, --wait, --idle-for) are validated by those commands.
var flagRanges = map[string]flagRange{
	"timeout":      durationRange(time.Millisecond, 24*time.Hour, "1ms to 24h"),
	"lock-timeout": durationRange(time.Millisecond, 24*time.Hour, "1ms to 24h"),
	"watch":        durationRange(100*time.Millisecond, 24*time.Hour, "100ms to 24h"),
	"warning":      durationRange(time.Second, 720*time.Hour, "1s to 720h"),
	"critical":     durationRange(time.Second, 720*time.Hour, "1s to 720h"),
	"port":         {min: 0, max: 65535, shown: "0 (leave it out) to 65535"},

	"nodes":                countRange(1),
	"max-connections":      countRange(1),
	"superuser-reserved":   countRange(0),
	"reserved-connections": countRange(0),
	"reserve":              countRange(0),
	"target-open":          countRange(0),
	"max-open":             countRange(0),
	"max-idle":             countRange(0),
}

// checkRanges returns a usage error naming the first changed numeric flag
// of cmd whose value is outside its documented range, and the range.
func checkRanges(cmd *cobra.Command) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		r, ok := flagRanges[f.Name]
		if !ok || err != nil {
			return
		}
		var v int64
		if r.duration {
			d, perr := time.ParseDuration(f.Value.String())
			if perr != nil {
				return
			}
			v = int64(d)
		} else {
			n, perr := strconv.ParseInt(f.Value.String(), 10, 64)
			if perr != nil {
				return
			}
			v = n
		}
		var rule string
		switch {
		case v >= r.min && v <= r.max:
			return
		case v < r.min && r.min == 0:
			rule = "must not be negative"
		case v <= 0 && r.duration:
			rule = "must be positive"
		case v < r.min:
			rule = "must be at least " + r.format(r.min)
		default:
			rule = "must be at most " + r.format(r.max)
		}
		err = cmdutil.Usagef("--%s %s, got %s: pass %s from %s", f.Name, rule, r.format(v), r.what(), r.shown)
	})
	return err
}

// pflagInvalidRE matches pflag's message for a value it cannot parse.
var pflagInvalidRE = regexp.MustCompile(`^invalid argument ("(?:[^"\\]|\\.)*") for "(?:-\w, )?--([\w-]+)" flag: `)

// explainFlagError rewrites pflag's parse error for a numeric flag with a
// documented range into one that says what to pass, such as
// `invalid argument "three" for "--nodes": pass a whole number from 1 to
// 262143`. Other errors are returned unchanged.
func explainFlagError(err error) error {
	m := pflagInvalidRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	r, ok := flagRanges[m[2]]
	if !ok {
		return err
	}
	return fmt.Errorf("invalid argument %s for \"--%s\": pass %s from %s", m[1], m[2], r.what(), r.shown)
}
