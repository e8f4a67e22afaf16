package starter

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/workflows"
)

// scripted replays progress snapshots, the last one as the rollout's end.
type scripted struct {
	snaps []*workflows.Progress
	i     int
}

func (s *scripted) Progress(context.Context) (*workflows.Progress, bool, error) {
	p := s.snaps[s.i]
	s.i = min(s.i+1, len(s.snaps)-1)
	return p, s.i == len(s.snaps)-1 && p == s.snaps[len(s.snaps)-1], nil
}

type oc = map[workflows.Outcome]int

// watchScript is a rollout of 10 nodes in waves of 1 and 9: the canary
// passes, a node fails and the budget pauses the rollout, an operator
// resumes it, and it completes.
func watchScript() []*workflows.Progress {
	base := func(state string, wave int, w1, w2 workflows.WaveProgress, counts oc) *workflows.Progress {
		done := w1.Done + w2.Done
		return &workflows.Progress{RolloutID: "kmemfix-rollout-demo", Mode: "remediate", State: state, Wave: wave,
			Waves: []workflows.WaveProgress{w1, w2}, Total: 10, Done: done, Running: w1.Started + w2.Started - done,
			Pending: 10 - w1.Started - w2.Started, Counts: counts}
	}
	w1 := workflows.WaveProgress{Wave: 1, Size: 1}
	w2 := workflows.WaveProgress{Wave: 2, Size: 9, Allowed: 0}
	var s []*workflows.Progress
	s = append(s, base(workflows.StateRunning, 1, w1, w2, oc{}))
	w1.Started = 1
	s = append(s, base(workflows.StateRunning, 1, w1, w2, oc{}))
	w1.Done, w1.Counts = 1, oc{workflows.OutcomeRemediated: 1}
	p := base(workflows.StateRunning, 1, w1, w2, oc{workflows.OutcomeRemediated: 1})
	p.Activity = "soaking 5m0s after wave 1"
	s = append(s, p)
	s = append(s, p) // nothing changed: nothing printed
	w1.Gate = "passed"
	w2.Started, w2.Done = 4, 3
	w2.Counts = oc{workflows.OutcomeRemediated: 2, workflows.OutcomeSkippedNotAffected: 1}
	s = append(s, base(workflows.StateRunning, 2, w1, w2, oc{workflows.OutcomeRemediated: 3, workflows.OutcomeSkippedNotAffected: 1}))
	w2.Done, w2.Failures = 4, 1
	w2.Counts = oc{workflows.OutcomeRemediated: 2, workflows.OutcomeSkippedNotAffected: 1, workflows.OutcomeFailedRolledBack: 1}
	p = base(workflows.StatePaused, 2, w1, w2, oc{workflows.OutcomeRemediated: 3, workflows.OutcomeSkippedNotAffected: 1, workflows.OutcomeFailedRolledBack: 1})
	p.PauseSource, p.PauseReason = "failure-budget", "wave 2 has 1 failure(s), 0 allowed"
	p.Failing = []workflows.NodeFailure{{Node: "node-004", Wave: 2, Outcome: workflows.OutcomeFailedRolledBack,
		Reasons: []string{"kubelet did not become healthy within 60s", "rolled back: kubelet restored"}}}
	s = append(s, p)
	failing := p.Failing
	w2.Started, w2.Done = 9, 9
	w2.Counts = oc{workflows.OutcomeRemediated: 7, workflows.OutcomeSkippedNotAffected: 1, workflows.OutcomeFailedRolledBack: 1}
	p = base(workflows.StateDone, 2, w1, w2, oc{workflows.OutcomeRemediated: 8, workflows.OutcomeSkippedNotAffected: 1, workflows.OutcomeFailedRolledBack: 1})
	p.Failing = failing
	p.KubeletDown = workflows.DownStats{Count: 8, P50: 41200 * time.Millisecond, P99: 63 * time.Second, Max: 63100 * time.Millisecond}
	s = append(s, p)
	return s
}

func TestWatchPlainOutput(t *testing.T) {
	var out bytes.Buffer
	w := &watcher{id: "kmemfix-rollout-demo", src: &scripted{snaps: watchScript()}, out: &out}
	p, err := w.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.State != workflows.StateDone {
		t.Errorf("final state %q, want done", p.State)
	}
	golden(t, "testdata/watch-plain.golden", out.String())
}

func TestStatusOutput(t *testing.T) {
	snaps := watchScript()
	var out bytes.Buffer
	writeStatus(&out, "kmemfix-rollout-demo", snaps[len(snaps)-1], false)
	golden(t, "testdata/status.golden", out.String())
}

func TestWatchLiveRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	snaps := watchScript()
	w := &watcher{id: "kmemfix-rollout-demo", src: &scripted{snaps: snaps[len(snaps)-2:]}, out: &out, live: true}
	if _, err := w.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !bytes.Contains(out.Bytes(), []byte("\x1b[")) {
		t.Error("the second frame should move the cursor up over the first")
	}
	if !bytes.Contains(out.Bytes(), []byte("█")) || !bytes.Contains(out.Bytes(), []byte("(9/9")) {
		t.Errorf("live frames should draw progress bars with counts:\n%s", s)
	}
}

func TestLiveFrameShowsOnlyTheLatestFailingNodes(t *testing.T) {
	p := watchScript()[6]
	for i := range 20 {
		p.Failing = append(p.Failing, workflows.NodeFailure{Node: fmt.Sprintf("node-%03d", 100+i), Wave: 2, Outcome: workflows.OutcomeFailedRolledBack, Reasons: []string{"x"}})
	}
	var live, plain bytes.Buffer
	writeStatus(&live, "r", p, true)
	writeStatus(&plain, "r", p, false)
	if !strings.Contains(live.String(), "node-119") || strings.Contains(live.String(), "node-100") || !strings.Contains(live.String(), "... and 13 more: kmemfix rollout status r") {
		t.Errorf("live frame:\n%s", live.String())
	}
	if !strings.Contains(plain.String(), "node-100") || strings.Contains(plain.String(), "more:") {
		t.Errorf("status lists every failing node:\n%s", plain.String())
	}
}
