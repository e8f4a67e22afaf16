package starter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/kmemfix/kmemfix/workflows"
)

// progressSource reads a rollout's progress; over is true once the
// rollout has ended and p is its final picture.
type progressSource interface {
	Progress(ctx context.Context) (p *workflows.Progress, over bool, err error)
}

// watcher follows a rollout until it ends (or ctx is done).
type watcher struct {
	id       string
	src      progressSource
	out      io.Writer
	interval time.Duration
	live     bool // redraw a full picture in place (a terminal)
	// until, when set, ends the watch early once it returns true (the demo
	// stops at a pause, which there means something unexpected failed).
	until func(*workflows.Progress) bool

	// plain mode: what was already said
	last     *workflows.Progress
	reported map[string]bool
	drawn    int // lines of the last live frame
}

// isTerminal reports whether w is a terminal (live redraw) or a pipe/file
// (plain lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// run polls until the rollout is over and returns its final progress.
func (w *watcher) run(ctx context.Context) (*workflows.Progress, error) {
	if w.reported == nil {
		w.reported = map[string]bool{}
	}
	for {
		p, over, err := w.src.Progress(ctx)
		if err != nil {
			return nil, err
		}
		if w.live {
			w.redraw(p)
		} else {
			w.plain(p, over)
		}
		if over || (w.until != nil && w.until(p)) {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(w.interval):
		}
	}
}

// redraw replaces the previous frame with the current picture.
func (w *watcher) redraw(p *workflows.Progress) {
	var buf bytes.Buffer
	writeStatus(&buf, w.id, p, true)
	if w.drawn > 0 {
		fmt.Fprintf(w.out, "\x1b[%dA\x1b[J", w.drawn) // up N lines, clear to the end
	}
	_, _ = w.out.Write(buf.Bytes())
	w.drawn = strings.Count(buf.String(), "\n")
}

// plain prints one line per change: state, activity, wave progress (every
// tenth of a wave and its end), each new failing node, and a summary at
// the end. Nothing is printed when nothing changed.
func (w *watcher) plain(p *workflows.Progress, over bool) {
	prev := w.last
	if prev == nil {
		prev = &workflows.Progress{State: p.State, Activity: p.Activity, PauseReason: p.PauseReason, AbortReason: p.AbortReason}
		w.say("rollout %s: %s", w.id, headline(p))
	}
	for i, wv := range p.Waves {
		var before workflows.WaveProgress
		if i < len(prev.Waves) {
			before = prev.Waves[i]
		}
		if wv.Started > 0 && before.Started == 0 {
			w.say("wave %d/%d started: %d node(s)", wv.Wave, len(p.Waves), wv.Size)
		}
		if wv.Done != before.Done && (wv.Done == wv.Size || tenth(wv.Done, wv.Size) != tenth(before.Done, wv.Size)) {
			w.say("wave %d: %d/%d done: %s", wv.Wave, wv.Done, wv.Size, countsLine(wv.Counts))
		}
		if wv.Gate != "" && wv.Gate != before.Gate {
			w.say("wave %d: health gate %s", wv.Wave, wv.Gate)
		}
	}
	for _, f := range p.Failing {
		key := f.Node + "/" + string(f.Outcome)
		if !w.reported[key] {
			w.reported[key] = true
			w.say("node %s (wave %d) %s: %s", f.Node, f.Wave, f.Outcome, strings.Join(f.Reasons, "; "))
		}
	}
	switch {
	case over:
		w.say("rollout %s ended %s: %s", w.id, p.State, countsLine(p.Counts))
		w.say("%s", downLine(p.KubeletDown))
	case p.State != prev.State || p.PauseReason != prev.PauseReason || p.AbortReason != prev.AbortReason:
		w.say("%s", headline(p))
	case p.Activity != prev.Activity && p.Activity != "":
		w.say("%s", p.Activity)
	}
	w.last = p
}

func tenth(done, size int) int {
	if size == 0 {
		return 0
	}
	return done * 10 / size
}

func (w *watcher) say(format string, args ...any) {
	fmt.Fprintf(w.out, format+"\n", args...)
}
