package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
)

//go:embed page.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"headroom": headroom,
	"leaked":   leaked,
	"class":    verdictClass,
	"join":     func(s []string) string { return strings.Join(s, "; ") },
	"add":      func(a, b int) int { return a + b },
}).Parse(pageTemplate))

// WriteHTML writes the survey as one self-contained HTML page.
func WriteHTML(w io.Writer, s Survey) error {
	if err := tmpl.Execute(w, newPage(s)); err != nil {
		return fmt.Errorf("report: write the survey page: %w", err)
	}
	return nil
}
