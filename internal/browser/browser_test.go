package browser_test

import (
	"context"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/internal/browser"
)

// requireChromium skips in -short runs on machines without Chromium and
// fails otherwise: `make test` installs it.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := browser.Path(); err != nil {
		if errors.Is(err, browser.ErrNoChromium) && testing.Short() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
}

// spa serves a page whose content only appears after a script fetches it,
// like the Temporal UI's workflow list.
func spa(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><html><body style="background:#123456"><div id="out">loading</div>
<script>
setTimeout(function() {
  fetch("/data").then(r => r.text()).then(t => { document.getElementById("out").textContent = t; });
}, 500);
</script></body></html>`))
	})
	mux.HandleFunc("/data", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(300 * time.Millisecond) // a slow API: the dump must wait for it
		_, _ = w.Write([]byte("rollout-42 listed"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestDumpDOMRunsScriptsAndWaitsForFetches(t *testing.T) {
	requireChromium(t)
	srv := spa(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dom, err := browser.DumpDOM(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, `<div id="out">rollout-42 listed</div>`) {
		t.Fatalf("the DOM lacks the fetched text; got:\n%s", dom)
	}
}

func TestScreenshotHasTheWindowSize(t *testing.T) {
	requireChromium(t)
	srv := spa(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	file := filepath.Join(t.TempDir(), "page.png")

	if err := browser.Screenshot(ctx, srv.URL, file, 640, 360); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 360 {
		t.Fatalf("screenshot is %dx%d, want 640x360", b.Dx(), b.Dy())
	}
	r, g, b, _ := img.At(320, 300).RGBA()
	if r>>8 != 0x12 || g>>8 != 0x34 || b>>8 != 0x56 {
		t.Fatalf("pixel (320,300) is #%02x%02x%02x, want the page background #123456", r>>8, g>>8, b>>8)
	}
}

func TestContextEndKillsTheBrowser(t *testing.T) {
	requireChromium(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers while the browser waits
	}))
	defer hang.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	began := time.Now()
	_, err := browser.DumpDOM(ctx, hang.URL)
	if err == nil {
		t.Fatal("DumpDOM of a page that never loads succeeded")
	}
	if waited := time.Since(began); waited > 15*time.Second {
		t.Fatalf("DumpDOM returned %s after its context ended", waited)
	}
}

func TestMissingOverrideIsAnError(t *testing.T) {
	t.Setenv(browser.EnvChromium, filepath.Join(t.TempDir(), "no-such-chromium"))
	if _, err := browser.DumpDOM(context.Background(), "about:blank"); err == nil {
		t.Fatal("DumpDOM with a missing $KMEMFIX_CHROMIUM binary succeeded")
	}
}
