package migrate

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/connectdb/connectdb/internal/migrate"
)

// bars draws one progress bar per table on stderr; each bar's description
// also shows the overall progress (tables and rows done).
type bars struct {
	w          io.Writer
	tables     int
	totalRows  int64
	doneRows   int64
	doneTables int
}

func newBars(w io.Writer) *bars { return &bars{w: w} }

func (b *bars) Begin(tables int, rows int64) {
	b.tables, b.totalRows, b.doneRows, b.doneTables = tables, rows, 0, 0
}

func (b *bars) Table(source, table string, index, total int, rows int64) migrate.ProgressBar {
	pct := 100.0
	if b.totalRows > 0 {
		pct = float64(b.doneRows) * 100 / float64(b.totalRows)
	}
	desc := fmt.Sprintf("[%d/%d, overall %3.0f%%] %s.%s", index, total, pct, source, table)
	pb := progressbar.NewOptions64(max(rows, 1),
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
	return &bar{pb: pb, parent: b, rows: rows}
}

type bar struct {
	pb     *progressbar.ProgressBar
	parent *bars
	rows   int64
	added  int64
}

func (x *bar) Add(n int) {
	x.added += int64(n)
	_ = x.pb.Add64(int64(n))
}

func (x *bar) Done() {
	x.parent.doneRows += x.rows
	x.parent.doneTables++
	_ = x.pb.Finish()
}
