package encodeurl

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// manyProblems is the URL of issue 16: about 90 KB with n bad escapes in
// one query parameter, each a problem at its own offset.
func manyProblems(n int) string {
	return "postgres://connect@db.example.com/connect?application_name=" + strings.Repeat("%zz", n) + strings.Repeat("a", 6*n)
}

// reportBound is the most output --check may write for a URL of n bytes:
// the URL a few times over (as given, repaired, read back) plus a fixed
// amount per listed problem.
func reportBound(n int) int { return 8*n + maxDiagnoses*2048 + 4096 }

func TestCheckCapsTheReport(t *testing.T) {
	raw := manyProblems(10000)
	r := runOpts(t, EncodeURLOptions{Check: "-", CheckSet: true}, raw+"\n", nil)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2 (%v)", r.code, r.err)
	}
	if n := strings.Count(r.out, "\nerror (url):"); n != maxDiagnoses {
		t.Errorf("text lists %d problems, want the first %d", n, maxDiagnoses)
	}
	if want := fmt.Sprintf("… and %d more not shown", 10000-maxDiagnoses); !strings.Contains(r.out, want) {
		t.Errorf("text lacks %q", want)
	}
	if !strings.Contains(r.out, "10000 errors, 0 warnings") {
		t.Error("text does not count every problem")
	}
	if len(r.out) > reportBound(len(raw)) {
		t.Errorf("text output is %d bytes for a %d-byte URL, over %d", len(r.out), len(raw), reportBound(len(raw)))
	}
	for line := range strings.SplitSeq(r.out, "\n") {
		if strings.HasPrefix(line, "  ") && len([]rune(line)) > caretWidth+8 {
			t.Fatalf("a caret line is %d characters long; want a window of about %d", len([]rune(line)), caretWidth)
		}
	}

	r = runOpts(t, EncodeURLOptions{Check: "-", CheckSet: true}, raw+"\n", withOutput("json"))
	var res checkJSON
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if len(res.Diagnoses) != maxDiagnoses || res.Omitted != 10000-maxDiagnoses || res.Errors != 10000 {
		t.Errorf("JSON has %d diagnoses, %d omitted, %d errors; want %d, %d, 10000",
			len(res.Diagnoses), res.Omitted, res.Errors, maxDiagnoses, 10000-maxDiagnoses)
	}
}

// TestCaretWindowPointsAtTheProblem checks that the caret under a window of
// a long URL still points at the problem's character.
func TestCaretWindowPointsAtTheProblem(t *testing.T) {
	shown := []rune(strings.Repeat("a", 500) + "#" + strings.Repeat("b", 500))
	for _, col := range []int{0, 10, 59, 60, 500, 940, 999, 1000} {
		line, c := caretWindow(shown, col)
		lr := []rune(line)
		if c < 0 || c >= len(lr) || lr[c] != shown[col] {
			t.Errorf("col %d: caret at %d of %q does not point at %q", col, c, line, shown[col])
		}
		if len(lr) > caretWidth+2 {
			t.Errorf("col %d: window is %d characters", col, len(lr))
		}
	}
	if line, c := caretWindow([]rune("short"), 3); line != "short" || c != 3 {
		t.Errorf("short URL windowed: %q %d", line, c)
	}
}

// FuzzCheckReportBounded: whatever URL --check is given, the report lists
// at most maxDiagnoses problems, counts all of them, and its size is
// linear in the URL's length.
func FuzzCheckReportBounded(f *testing.F) {
	f.Add("postgres://u:p@h/db?application_name=%zz%zz%zz")
	f.Add("postgres://u:" + strings.Repeat("@#", 40) + "@h/db")
	f.Add("postgres://h/db?user=" + strings.Repeat("@?", 30))
	f.Add("postgres://" + strings.Repeat("h:x,", 30) + "h/db?" + strings.Repeat("&", 30))
	f.Fuzz(func(t *testing.T, raw string) {
		if strings.ContainsAny(raw, "\r\n") || strings.TrimSpace(raw) == "" {
			return
		}
		r := runOpts(t, EncodeURLOptions{Check: "-", CheckSet: true}, raw+"\n", withOutput("json"))
		if r.code == 2 && r.out == "" {
			return // not a postgres URL
		}
		var res checkJSON
		if err := json.Unmarshal([]byte(r.out), &res); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.out)
		}
		if len(res.Diagnoses) > maxDiagnoses || len(res.Diagnoses)+res.Omitted != res.Errors+res.Warnings {
			t.Fatalf("%d listed + %d omitted != %d errors + %d warnings", len(res.Diagnoses), res.Omitted, res.Errors, res.Warnings)
		}
		text := runOpts(t, EncodeURLOptions{Check: "-", CheckSet: true}, raw+"\n", nil)
		if len(text.out) > reportBound(len(raw)) {
			t.Fatalf("text report is %d bytes for a %d-byte URL", len(text.out), len(raw))
		}
	})
}

// BenchmarkCheckManyProblems measures --check on URLs with 1,000 and
// 10,000 bad escapes (9 KB and 90 KB): time and memory per byte must stay
// flat as the URL grows (they grew with the square of it before the
// report was capped: 23 s and 6.1 GB for the 90 KB URL).
func BenchmarkCheckManyProblems(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		raw := manyProblems(n) + "\n"
		for _, output := range []string{"text", "json"} {
			b.Run(fmt.Sprintf("%s/%dB", output, len(raw)), func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					runOpts(b, EncodeURLOptions{Check: "-", CheckSet: true}, raw, withOutput(output))
				}
			})
		}
	}
}
