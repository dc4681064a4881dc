package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/docker/go-units"
)

// templateFuncs are docker's template functions (docker/cli's templates
// package): what `--format` users have in their scripts.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err.Error()
		}
		return strings.TrimSpace(buf.String())
	},
	"split": strings.Split,
	"join":  strings.Join,
	"title": title,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"truncate": truncateRunes,
	"println":  func(a ...any) string { return fmt.Sprintln(a...) },
}

// headerFuncs stand in for templateFuncs when a table's header row is
// rendered: the header text passes through unchanged.
var headerFuncs = template.FuncMap{
	"json":     func(v any) string { return fmt.Sprint(v) },
	"split":    func(v any, _ string) string { return fmt.Sprint(v) },
	"join":     func(v any, _ string) string { return fmt.Sprint(v) },
	"title":    func(v any) string { return fmt.Sprint(v) },
	"lower":    func(v any) string { return fmt.Sprint(v) },
	"upper":    func(v any) string { return fmt.Sprint(v) },
	"pad":      func(v any, _, _ int) string { return fmt.Sprint(v) },
	"truncate": func(v any, _ int) string { return fmt.Sprint(v) },
	"println":  func(a ...any) string { return fmt.Sprintln(a...) },
}

// title upper-cases the first letter of each word, as strings.Title did.
func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		defer func() { prev = r }()
		if prev == ' ' || prev == '\t' || prev == '\n' || prev == '-' || prev == '_' {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// ellipsis shortens s to n runes, the last one "…", as docker's ps does.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	return string([]rune(s)[:n-1]) + "…"
}

func parseTemplate(format string, funcs template.FuncMap) (*template.Template, error) {
	t, err := template.New("").Funcs(funcs).Parse(format)
	if err != nil {
		return nil, StatusError{Status: fmt.Sprintf("template parsing error: %v", err), StatusCode: 64}
	}
	return t, nil
}

// listing renders rows as docker's formatter does: a table (default or
// "table TEMPLATE") with headers, "json" (one object per line), or a raw
// Go template per row.
type listing struct {
	format  string            // the --format value
	table   string            // the default table template
	quiet   string            // template for -q ("{{.ID}}")
	headers map[string]string // field → column header
}

func (l listing) render(w io.Writer, quiet bool, rows []any) error {
	format := l.format
	switch {
	case quiet:
		format = l.quiet
	case format == "" || format == "table":
		format = l.table
	case format == "json":
		format = "{{json .}}"
	}
	if tf, ok := strings.CutPrefix(format, "table"); ok && !quiet {
		return l.renderTable(w, strings.TrimLeft(tf, " "), rows)
	}
	t, err := parseTemplate(format+"\n", templateFuncs)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := t.Execute(w, r); err != nil {
			return StatusError{Status: fmt.Sprintf("template: %v", err), StatusCode: 1}
		}
	}
	return nil
}

func (l listing) renderTable(w io.Writer, format string, rows []any) error {
	format = strings.ReplaceAll(format, `\t`, "\t")
	t, err := parseTemplate(format+"\n", templateFuncs)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	// The header: the same template over the header names.
	if ht, err := template.New("").Funcs(headerFuncs).Option("missingkey=zero").Parse(format + "\n"); err == nil {
		var hb bytes.Buffer
		if ht.Execute(&hb, headerMap(l.headers)) == nil && strings.TrimSpace(hb.String()) != "" {
			tw.Write(hb.Bytes())
		}
	}
	for _, r := range rows {
		if err := t.Execute(tw, r); err != nil {
			return StatusError{Status: fmt.Sprintf("template: %v", err), StatusCode: 1}
		}
	}
	return tw.Flush()
}

// formatOne renders one value with a template (inspect, version, info).
func formatOne(w io.Writer, format string, v any) error {
	t, err := parseTemplate(format+"\n", templateFuncs)
	if err != nil {
		return err
	}
	if err := t.Execute(w, v); err != nil {
		return StatusError{Status: fmt.Sprintf("template: %v", err), StatusCode: 1}
	}
	return nil
}

// Human values as docker prints them.

func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

func humanSince(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return units.HumanDuration(time.Now().UTC().Sub(t)) + " ago"
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// headerMap is a table's header row: field → column title; .Label "k"
// titles its column with the label's name, as docker does.
type headerMap map[string]string

func (h headerMap) Label(name string) string { return name }
