package devserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/internal/browser"
	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
)

func startWithUI(t *testing.T) *devserver.Server {
	t.Helper()
	srv := devservertest.Start(t, func(o *devserver.Options) {
		o.UIAddr = "127.0.0.1:0"
		o.SearchAttributes = testAttrs // greet sets them
	})
	if !strings.HasPrefix(srv.UIURL(), "http://127.0.0.1:") {
		t.Fatalf("UIURL() = %q, want http://127.0.0.1:PORT", srv.UIURL())
	}
	return srv
}

func TestUIServesThePageItsAssetsAndTheWorkflowList(t *testing.T) {
	srv := startWithUI(t)
	runGreeting(t, devservertest.Client(t, srv), "ui-listed-1", "ui")

	page := get(t, srv.UIURL()+"/namespaces/default/workflows", "text/html")
	script := regexp.MustCompile(`/_app/immutable/entry/start\.[^"]+\.js`).FindString(page)
	if script == "" {
		t.Fatalf("the UI page names no start script:\n%.2000s", page)
	}
	get(t, srv.UIURL()+script, "javascript")

	eventually(t, func() error {
		body, err := fetch(srv.UIURL()+"/api/v1/namespaces/default/workflows", "application/json")
		if err != nil {
			return err
		}
		var list struct {
			Executions []struct {
				Execution struct {
					WorkflowID string `json:"workflowId"`
				} `json:"execution"`
			} `json:"executions"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			return fmt.Errorf("decode workflow list: %w: %s", err, body)
		}
		for _, e := range list.Executions {
			if e.Execution.WorkflowID == "ui-listed-1" {
				return nil
			}
		}
		return fmt.Errorf("the UI API does not list ui-listed-1: %s", body)
	})
}

func TestUIOffByDefault(t *testing.T) {
	srv := devservertest.Start(t)
	if srv.UIURL() != "" {
		t.Fatalf("UIURL() = %q with the UI off, want \"\"", srv.UIURL())
	}
}

// TestUIRendersWorkflowsInChromium loads the workflow list and a workflow's
// page the way a person does: the single-page app boots in a real browser
// and fetches them through the UI server's API.
func TestUIRendersWorkflowsInChromium(t *testing.T) {
	if _, err := browser.Path(); errors.Is(err, browser.ErrNoChromium) && testing.Short() {
		t.Skip(err)
	}
	srv := startWithUI(t)
	runGreeting(t, devservertest.Client(t, srv), "ui-rendered-1", "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var dom string
	eventually(t, func() error {
		var err error
		if dom, err = browser.DumpDOM(ctx, srv.UIURL()+"/namespaces/default/workflows"); err != nil {
			return err
		}
		if !strings.Contains(dom, "ui-rendered-1") {
			return fmt.Errorf("the rendered workflow list lacks ui-rendered-1 (%d bytes of DOM)", len(dom))
		}
		return nil
	})
	if !strings.Contains(dom, "greet") {
		t.Errorf("the rendered list lacks the workflow type %q", "greet")
	}

	// The workflow's own page loads its history through the API.
	dom, err := browser.DumpDOM(ctx, srv.UIURL()+"/namespaces/default/workflows/ui-rendered-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, "hello chromium") {
		t.Errorf("the rendered workflow page lacks its result %q (%d bytes of DOM)", "hello chromium", len(dom))
	}
}

func get(t *testing.T, url, contentType string) string {
	t.Helper()
	body, err := fetch(url, contentType)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// fetch GETs url and checks the status and that the content type contains contentType.
func fetch(url, contentType string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %.500s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, contentType) {
		return "", fmt.Errorf("GET %s: content type %q, want %q", url, ct, contentType)
	}
	return string(body), nil
}
