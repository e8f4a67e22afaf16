package report

import (
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/internal/browser"
)

// The page as a person sees it: headless Chromium renders it, the
// screenshot shows the chart's red bars (nodes short of headroom), and the
// rendered DOM has the chart and every verdict's count.
func TestPageInChromium(t *testing.T) {
	if _, err := browser.Path(); errors.Is(err, browser.ErrNoChromium) {
		if testing.Short() {
			t.Skip("chromium is not installed (-short)")
		}
		t.Fatalf("%v (make deps installs it; go test -short skips this test)", err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "survey.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, fixture()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	shot := filepath.Join(dir, "survey.png")
	if err := browser.Screenshot(ctx, url, shot, 1200, 1500); err != nil {
		t.Fatal(err)
	}
	checkScreenshot(t, shot)

	dom, err := browser.DumpDOM(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, `<svg id="headroom-chart"`) {
		t.Error("the rendered DOM has no headroom chart")
	}
	if n := strings.Count(dom, `<rect class="bar`); n != 7 {
		t.Errorf("%d bars rendered, want 7 bins", n)
	}
	for verdict, n := range map[string]string{"needs-reboot": "2", "affected": "4", "unreachable": "1", "unsupported": "1", "not-affected": "2"} {
		re := regexp.MustCompile(`data-verdict="` + verdict + `"><div class="n">` + n + `</div>`)
		if !re.MatchString(dom) {
			t.Errorf("the rendered DOM does not show %s = %s", verdict, n)
		}
	}
}

func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 20_000 || st.Size() > 5_000_000 {
		t.Errorf("screenshot is %d bytes: not a plausible 1200x1500 page", st.Size())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 1500 {
		t.Errorf("screenshot is %dx%d, want 1200x1500", b.Dx(), b.Dy())
	}
	if red, blue := countColor(img, 0xcf, 0x22, 0x2e), countColor(img, 0x09, 0x69, 0xda); red < 2000 || blue < 2000 {
		t.Errorf("the chart's bars are not on the screenshot: %d red and %d blue pixels", red, blue)
	}
}

// countColor counts pixels within a small distance of r, g, b.
func countColor(img image.Image, r, g, b uint8) int {
	n := 0
	bounds := img.Bounds()
	near := func(a uint32, want uint8) bool { d := int(a>>8) - int(want); return d > -12 && d < 12 }
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if near(pr, r) && near(pg, g) && near(pb, b) {
				n++
			}
		}
	}
	return n
}
