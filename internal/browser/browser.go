// Package browser drives a headless Chromium from the command line: render
// a page (scripts run, API calls answered) and return its DOM, or save a
// screenshot. Tests use it to check what the Temporal Web UI shows; the
// README screenshot and the survey report page are made with it.
//
// It needs Debian's chromium package (scripts/deps.sh installs it) or a
// Chromium-compatible binary named by $KMEMFIX_CHROMIUM.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoChromium means no Chromium binary was found; callers (tests) may skip.
var ErrNoChromium = errors.New("browser: chromium not found: install it (apt-get install chromium) or set KMEMFIX_CHROMIUM to its path")

// EnvChromium names the environment variable that overrides the binary.
const EnvChromium = "KMEMFIX_CHROMIUM"

// VirtualTimeBudget is how much page time Chromium lets pass (timers,
// polling) before it dumps or shoots the page. Network fetches in flight
// hold the clock, so a single-page app has loaded its data by then.
const VirtualTimeBudget = 15 * time.Second

// candidates are tried in order when $KMEMFIX_CHROMIUM is not set.
var candidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Path returns the Chromium binary to run, or ErrNoChromium.
func Path() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("browser: %s=%q: %w", EnvChromium, p, err)
		}
		return p, nil
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// DumpDOM loads url in headless Chromium and returns the rendered DOM as HTML.
func DumpDOM(ctx context.Context, url string) (string, error) {
	out, err := run(ctx, []string{"--dump-dom"}, url)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// Screenshot loads url in a width x height window and saves a PNG to file.
func Screenshot(ctx context.Context, url, file string, width, height int) error {
	if width <= 0 || height <= 0 {
		return fmt.Errorf("browser: screenshot size %dx%d: both must be positive", width, height)
	}
	args := []string{
		"--screenshot=" + file,
		"--window-size=" + strconv.Itoa(width) + "," + strconv.Itoa(height),
		"--hide-scrollbars",
	}
	if _, err := run(ctx, args, url); err != nil {
		return err
	}
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("browser: chromium wrote no screenshot to %s (stat: %w)", file, err)
	}
	if st.Size() == 0 {
		return fmt.Errorf("browser: chromium wrote no screenshot to %s (the file is empty)", file)
	}
	return nil
}

// run starts Chromium with a throw-away profile and returns its stdout. The
// browser's whole process group is killed when ctx ends.
func run(ctx context.Context, extra []string, url string) ([]byte, error) {
	bin, err := Path()
	if err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "kmemfix-chromium-")
	if err != nil {
		return nil, fmt.Errorf("browser: profile dir: %w", err)
	}
	defer os.RemoveAll(profile)

	args := append(baseArgs(profile), extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("browser: %s %s: %w: %s", bin, url, err, lastLines(stderr.String(), 5))
	}
	return stdout.Bytes(), nil
}

func baseArgs(profile string) []string {
	return []string{
		"--headless",
		"--no-sandbox", // needed as root and in most containers
		"--disable-gpu",
		"--disable-dev-shm-usage",
		"--disable-quic",
		"--no-first-run",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--user-data-dir=" + profile,
		"--virtual-time-budget=" + strconv.FormatInt(VirtualTimeBudget.Milliseconds(), 10),
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
