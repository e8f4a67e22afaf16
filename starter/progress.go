package starter

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/schollz/progressbar/v3"

	"github.com/kmemfix/kmemfix/workflows"
)

// outcomeOrder lists outcomes good first, then skips, then failures; any
// outcome not listed sorts after them by name.
var outcomeOrder = []workflows.Outcome{
	workflows.OutcomeRemediated, workflows.OutcomePlanned, workflows.OutcomeSkippedNotAffected,
	workflows.OutcomeSkippedUnknownHeadroom, workflows.OutcomeSkippedByOperator, workflows.OutcomeNeedsReboot,
	workflows.OutcomeUnsupported, workflows.OutcomeUnreachable, workflows.OutcomeBusy,
	workflows.OutcomeFailedRolledBack, workflows.OutcomeRebooted, workflows.OutcomeFailedNeedsAttention,
}

func sortedOutcomes(counts map[workflows.Outcome]int) []workflows.Outcome {
	rank := map[workflows.Outcome]int{}
	for i, o := range outcomeOrder {
		rank[o] = i + 1
	}
	var out []workflows.Outcome
	for o, n := range counts {
		if n > 0 {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rank[out[i]], rank[out[j]]
		if ri == 0 {
			ri = len(outcomeOrder) + 1
		}
		if rj == 0 {
			rj = len(outcomeOrder) + 1
		}
		if ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}

// countsLine is "remediated 12, skipped-not-affected 3", or "none yet".
func countsLine(counts map[workflows.Outcome]int) string {
	var parts []string
	for _, o := range sortedOutcomes(counts) {
		parts = append(parts, fmt.Sprintf("%s %d", o, counts[o]))
	}
	if len(parts) == 0 {
		return "none yet"
	}
	return strings.Join(parts, ", ")
}

// headline is the rollout's one-line state.
func headline(p *workflows.Progress) string {
	s := fmt.Sprintf("%s %s: wave %d/%d, %d/%d nodes done, %d running", p.Mode, p.State, p.Wave, len(p.Waves), p.Done, p.Total, p.Running)
	switch {
	case p.State == workflows.StatePaused:
		s += fmt.Sprintf(" (paused by %s: %s)", orWord(p.PauseSource, "operator"), p.PauseReason)
	case p.AbortReason != "":
		s += fmt.Sprintf(" (abort: %s)", p.AbortReason)
	case p.Activity != "":
		s += " (" + p.Activity + ")"
	}
	return s
}

func downLine(d workflows.DownStats) string {
	if d.Count == 0 {
		return "kubelet down: no node remediated yet"
	}
	return fmt.Sprintf("kubelet down over %d node(s): p50 %s, p99 %s, max %s", d.Count, short(d.P50), short(d.P99), short(d.Max))
}

func short(d time.Duration) string {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func orWord(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// waveBar renders one wave as a progress bar line.
func waveBar(w workflows.WaveProgress, width int) string {
	size := max(w.Size, 1)
	bar := progressbar.NewOptions(size,
		progressbar.OptionSetWriter(io.Discard),
		progressbar.OptionSetWidth(width),
		progressbar.OptionSetDescription(fmt.Sprintf("wave %-2d", w.Wave)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSetTheme(progressbar.Theme{Saucer: "█", SaucerPadding: "░", BarStart: "|", BarEnd: "|"}),
	)
	_ = bar.Set(min(w.Done, size))
	line := strings.TrimSpace(strings.ReplaceAll(bar.String(), "\r", ""))
	extra := countsLine(w.Counts)
	if w.Gate != "" {
		extra += "; gate " + w.Gate
	}
	if w.Failures > 0 {
		extra += fmt.Sprintf("; failures %d/%d allowed", w.Failures, w.Allowed)
	}
	return line + "  " + extra
}

// writeStatus prints the full picture: headline, waves, outcomes, kubelet
// down time and failing nodes. bars draws progress bars (terminals);
// otherwise each wave is a plain line.
func writeStatus(w io.Writer, id string, p *workflows.Progress, bars bool) {
	fmt.Fprintf(w, "Rollout %s\n%s\n\n", id, headline(p))
	for _, wv := range p.Waves {
		if bars {
			fmt.Fprintln(w, waveBar(wv, 30))
			continue
		}
		fmt.Fprintf(w, "wave %d: %d/%d done, %d started: %s", wv.Wave, wv.Done, wv.Size, wv.Started, countsLine(wv.Counts))
		if wv.Gate != "" {
			fmt.Fprintf(w, "; gate %s", wv.Gate)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nOutcomes: %s\n%s\n", countsLine(p.Counts), downLine(p.KubeletDown))
	if len(p.Failing) > 0 {
		fmt.Fprintf(w, "\nFailing nodes (%d):\n", len(p.Failing))
		failing := p.Failing
		if bars && len(failing) > liveFailing { // a live frame must fit a terminal
			failing = failing[len(failing)-liveFailing:]
		}
		t := newTable(w, "NODE", "WAVE", "OUTCOME", "REASON")
		for _, f := range failing {
			_ = t.Append(f.Node, fmt.Sprint(f.Wave), string(f.Outcome), strings.Join(f.Reasons, "; "))
		}
		_ = t.Render()
		if n := len(p.Failing) - len(failing); n > 0 {
			fmt.Fprintf(w, "... and %d more: kmemfix rollout status %s\n", n, id)
		}
	}
}

// liveFailing is how many failing nodes (the latest) a live frame shows.
const liveFailing = 8

// newTable is a bordered table with headers as written and long cells
// (reasons) wrapped at 60 columns.
func newTable(w io.Writer, header ...string) *tablewriter.Table {
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNormal),
		tablewriter.WithRowMaxWidth(60),
	)
	t.Header(header)
	return t
}
