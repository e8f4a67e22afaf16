package workflows

import (
	"slices"
	"time"
)

// maxFailing bounds the failing nodes listed in Progress.
const maxFailing = 200

// allOutcomes fixes the order outcomes are looked at (never range a map in
// workflow code).
var allOutcomes = []Outcome{
	OutcomeRemediated, OutcomeSkippedNotAffected, OutcomeSkippedUnknownHeadroom, OutcomeNeedsReboot, OutcomeUnsupported,
	OutcomeUnreachable, OutcomeFailedRolledBack, OutcomeFailedNeedsAttention, OutcomeRebooted, OutcomePlanned,
	OutcomeSkippedByOperator, OutcomeBusy,
}

func (r *rollout) progress() *Progress {
	p := &Progress{
		RolloutID: r.in.RolloutID, Mode: r.in.Mode, State: r.state(), Activity: r.activity,
		PauseReason: r.s.PauseReason, PauseSource: r.s.PauseSource, AbortReason: r.s.AbortReason,
		Wave: min(r.s.Wave, len(r.ends)-1) + 1, Total: len(r.s.Nodes), Counts: map[Outcome]int{}, Runs: r.s.Runs,
	}
	var downs []time.Duration
	for i, st := range r.s.Nodes {
		switch st.State {
		case NodePending:
			p.Pending++
		case NodeRunning:
			p.Running++
		case NodeDone:
			p.Done++
			p.Counts[st.Outcome]++
			if st.Outcome == OutcomeRemediated {
				downs = append(downs, time.Duration(st.KubeletDownMS)*time.Millisecond)
			}
			if isFailure(st.Outcome) && len(p.Failing) < maxFailing {
				p.Failing = append(p.Failing, NodeFailure{Node: r.in.Inventory[i].Name, Wave: st.Wave, Outcome: st.Outcome, Reasons: st.Reasons})
			}
		}
	}
	p.KubeletDown = downStats(downs)
	for w := range r.ends {
		wp := WaveProgress{Wave: w + 1, Size: r.waveSize(w), Started: r.waveStarted[w], Done: r.waveDone[w],
			Failures: r.waveFailures[w], Allowed: r.in.FailureBudget.Allowed(r.waveSize(w)), Counts: map[Outcome]int{}, Gate: r.s.Gates[w]}
		for _, o := range allOutcomes {
			if n := r.waveCounts[w][o]; n > 0 {
				wp.Counts[o] = n
			}
		}
		p.Waves = append(p.Waves, wp)
	}
	if r.in.Mode == ModeSurvey {
		p.Fleet = r.fleet()
	}
	return p
}

// downStats is nearest-rank percentiles of kubelet-down times.
func downStats(d []time.Duration) DownStats {
	if len(d) == 0 {
		return DownStats{}
	}
	slices.Sort(d)
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(d))+0.999999) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	return DownStats{Count: len(d), P50: rank(0.50), P99: rank(0.99), Max: d[len(d)-1]}
}

// fleet aggregates a survey: verdicts, unreachable nodes, headroom per node.
func (r *rollout) fleet() *FleetPicture {
	f := &FleetPicture{Verdicts: map[string]int{}}
	for _, st := range r.s.Nodes {
		if st.Survey == nil {
			continue
		}
		f.Nodes = append(f.Nodes, *st.Survey)
		switch {
		case st.Outcome == OutcomeUnreachable:
			f.Unreachable++
		case st.Survey.Verdict != "":
			f.Verdicts[st.Survey.Verdict]++
		default:
			f.Verdicts[string(st.Outcome)]++
		}
	}
	return f
}
