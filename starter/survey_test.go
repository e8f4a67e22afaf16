package starter

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSurveyWritesTheHTMLReport surveys the test fleet (node-001 affected,
// three not) and reads the page it wrote.
func TestSurveyWritesTheHTMLReport(t *testing.T) {
	h := newHarness(t)
	page := filepath.Join(t.TempDir(), "report.html")
	out := h.run(0, "survey", "-i", "testdata/nodes.yaml", "--html", page)
	mustContain(t, out, "Report: "+page, "4 node(s): affected 1, not-affected 3")
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, string(html), `<svg id="headroom-chart"`,
		`data-verdict="affected"><div class="n">1</div>`, `data-verdict="not-affected"><div class="n">3</div>`,
		"4 node(s) · survey kmemfix-rollout-survey-", "node-001")
	mustContain(t, h.run(1, "survey", "-i", "testdata/nodes.yaml", "--html", filepath.Join(t.TempDir(), "no", "such", "dir", "r.html")),
		"survey report:")
}
