// Command testprogress runs `go test -json` with the given arguments and
// prints one line per package as it starts and ends, a heartbeat while
// packages compile or run, and the full output of every failed test, so a
// first `make test` (which compiles everything with -race) does not look hung:
//
//	go run ./tools/testprogress -race -count=1 ./...
//
// It exits with go test's exit code.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string
}

func main() {
	args := append([]string{"test", "-json"}, os.Args[1:]...)
	cmd := exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testprogress:", err)
		os.Exit(1)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testprogress:", err)
		os.Exit(1)
	}
	p := newProgress(os.Stdout, time.Now)
	fmt.Fprintf(os.Stdout, "go %s: compiling test binaries, then running each package (a line per package; a heartbeat every 30s)\n", strings.Join(args, " "))
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.heartbeat()
			case <-stop:
				return
			}
		}
	}()
	p.read(out)
	close(stop)
	werr := cmd.Wait()
	p.summary()
	var exit *exec.ExitError
	switch {
	case errors.As(werr, &exit):
		os.Exit(exit.ExitCode())
	case werr != nil:
		fmt.Fprintln(os.Stderr, "testprogress:", werr)
		os.Exit(1)
	case p.failed > 0:
		os.Exit(1)
	}
}

type progress struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() time.Time
	start   time.Time
	running map[string]time.Time // packages whose test binary runs
	done    int
	failed  int
	// output of each running test ("pkg test") and of each package, kept
	// until the test or package passes.
	testOut map[string]*strings.Builder
	pkgOut  map[string]*strings.Builder
	build   map[string]*strings.Builder
}

func newProgress(w io.Writer, now func() time.Time) *progress {
	return &progress{w: w, now: now, start: now(), running: map[string]time.Time{},
		testOut: map[string]*strings.Builder{}, pkgOut: map[string]*strings.Builder{}, build: map[string]*strings.Builder{}}
}

func (p *progress) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not JSON (go test printed something itself): pass it on.
			p.mu.Lock()
			fmt.Fprintln(p.w, sc.Text())
			p.mu.Unlock()
			continue
		}
		p.handle(e)
	}
}

func appendTo(m map[string]*strings.Builder, key, s string) {
	b := m[key]
	if b == nil {
		b = &strings.Builder{}
		m[key] = b
	}
	b.WriteString(s)
}

func (p *progress) handle(e event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Action {
	case "build-output":
		appendTo(p.build, e.ImportPath, e.Output)
	case "build-fail":
		fmt.Fprintf(p.w, "BUILD FAIL %s\n%s", e.ImportPath, p.build[e.ImportPath])
		p.failed++
	case "start":
		p.running[e.Package] = p.now()
		fmt.Fprintf(p.w, "  run   %s\n", e.Package)
	case "output":
		if e.Test != "" {
			appendTo(p.testOut, e.Package+" "+e.Test, e.Output)
		} else {
			appendTo(p.pkgOut, e.Package, e.Output)
		}
	case "pass", "skip", "fail":
		if e.Test != "" {
			key := e.Package + " " + e.Test
			if e.Action == "fail" {
				appendTo(p.pkgOut, e.Package, p.testOut[key].String())
			}
			delete(p.testOut, key)
			return
		}
		delete(p.running, e.Package)
		p.done++
		switch e.Action {
		case "fail":
			p.failed++
			fmt.Fprintf(p.w, "FAIL  %s (%.1fs)\n", e.Package, e.Elapsed)
			if b := p.pkgOut[e.Package]; b != nil {
				fmt.Fprint(p.w, indent(b.String()))
			}
		case "skip":
			fmt.Fprintf(p.w, "  -     %s (no test files)\n", e.Package)
		default:
			fmt.Fprintf(p.w, "  ok    %s (%.1fs)\n", e.Package, e.Elapsed)
		}
		delete(p.pkgOut, e.Package)
	}
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("      " + l)
		}
	}
	if !strings.HasSuffix(b.String(), "\n") && b.Len() > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

func (p *progress) heartbeat() {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := p.now().Sub(p.start).Round(time.Second)
	if len(p.running) == 0 {
		fmt.Fprintf(p.w, "  ...   %s: %d packages done, compiling the next ones\n", elapsed, p.done)
		return
	}
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(p.w, "  ...   %s: %d packages done, running %s\n", elapsed, p.done, strings.Join(names, ", "))
}

func (p *progress) summary() {
	p.mu.Lock()
	defer p.mu.Unlock()
	verdict := "all passed"
	if p.failed > 0 {
		verdict = fmt.Sprintf("%d FAILED", p.failed)
	}
	fmt.Fprintf(p.w, "%d packages in %s: %s\n", p.done, p.now().Sub(p.start).Round(time.Second), verdict)
}
