package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// report renders the run: the machine, the versions of every tool, then one
// table of figures.
func (b *bench) report(rows []row) string {
	var s strings.Builder
	mode := "full"
	if b.quick {
		mode = "quick"
	}
	fmt.Fprintf(&s, "# gorae bench, %s (%s run, %s)\n\n", b.start.Format("2006-01-02 15:04 MST"), mode,
		time.Since(b.start).Round(time.Second))
	s.WriteString("Machine:\n\n")
	for _, m := range machine() {
		fmt.Fprintf(&s, "- %s\n", m)
	}
	fmt.Fprintf(&s, "- load average (1, 5, 15 min): %s at start, %s at end\n", b.loadStart, loadavg())
	s.WriteString("\nVersions:\n\n")
	for _, t := range b.tools {
		fmt.Fprintf(&s, "- %s: %s\n", t.name, t.version)
	}
	s.WriteString("\nMedians, p90 in brackets, n samples; ratio = gorae median / peer median (lower is better for gorae).\n\n")
	s.WriteString(table(rows))
	return s.String()
}

func table(rows []row) string {
	var s strings.Builder
	s.WriteString("| figure | gorae | peer | peer value | ratio | target | verdict |\n")
	s.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		ratio := "—"
		if x, ok := r.ratio(); ok {
			ratio = fmt.Sprintf("%.2fx", x)
		}
		cells := []string{r.figure, r.gorae.String(), r.peer, r.peerValue.String(), ratio, r.target.String(), r.verdict()}
		for i, c := range cells {
			if len(c) > 160 {
				c = c[:157] + "..."
			}
			cells[i] = strings.ReplaceAll(strings.ReplaceAll(c, "|", `\|`), "\n", " ")
		}
		fmt.Fprintf(&s, "| %s |\n", strings.Join(cells, " | "))
	}
	return s.String()
}

// writeResults writes the report to bench/results/<date>-<host>.md.
func (b *bench) writeResults(report string) (string, error) {
	host, _ := os.Hostname()
	dir := filepath.Join(b.repo, "bench", "results")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, b.start.Format("2006-01-02")+"-"+host+".md")
	return path, os.WriteFile(path, []byte(report), 0o644)
}
