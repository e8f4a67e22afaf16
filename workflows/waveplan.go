package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// WaveSize is one entry of a wave plan: how many nodes the rollout has
// reached, in total, at the end of the wave: a count (10) or a percent of
// the fleet ("5%"). In JSON it is a number or a string.
type WaveSize struct {
	Count   int     `json:"-"`
	Percent float64 `json:"-"`
}

// ParseWaveSize reads "10" or "5%".
func ParseWaveSize(s string) (WaveSize, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || v <= 0 || v > 100 {
			return WaveSize{}, fmt.Errorf("wave %q: a percent must be a number in (0, 100], like \"5%%\"", s)
		}
		return WaveSize{Percent: v}, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return WaveSize{}, fmt.Errorf("wave %q: give a node count of at least 1 (like 10) or a percent (like \"5%%\")", s)
	}
	return WaveSize{Count: v}, nil
}

func (w WaveSize) String() string {
	if w.Percent > 0 {
		return strconv.FormatFloat(w.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(w.Count)
}

// MarshalJSON writes a count as a number and a percent as a string.
func (w WaveSize) MarshalJSON() ([]byte, error) {
	if w.Percent > 0 {
		return json.Marshal(w.String())
	}
	return json.Marshal(w.Count)
}

// UnmarshalJSON accepts 10, "10" and "5%".
func (w *WaveSize) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("wave %s: give a count or a percent string", b)
		}
		s = n.String()
	}
	v, err := ParseWaveSize(s)
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// target is the cumulative node count the wave reaches in a fleet of n.
func (w WaveSize) target(n int) int {
	t := w.Count
	if w.Percent > 0 {
		t = int(math.Ceil(w.Percent * float64(n) / 100))
	}
	return min(t, n)
}

// WavePlan is the list of cumulative targets, like [1, 10, "5%", "25%", "100%"].
type WavePlan []WaveSize

// ParseWavePlan reads a plan written as "1,10,5%,25%,100%".
func ParseWavePlan(s string) (WavePlan, error) {
	var p WavePlan
	for _, f := range strings.Split(s, ",") {
		w, err := ParseWaveSize(f)
		if err != nil {
			return nil, err
		}
		p = append(p, w)
	}
	return p, p.Validate()
}

// Validate checks the plan alone: not empty, counts and percents each
// increasing, ending with "100%" so every node is covered.
func (p WavePlan) Validate() error {
	if len(p) == 0 {
		return errors.New("the wave plan is empty: give at least [\"100%\"], or a canary first like [1, 10, \"25%\", \"100%\"]")
	}
	lastCount, lastPct := 0, 0.0
	for i, w := range p {
		switch {
		case w.Count < 0 || w.Percent < 0 || w.Percent > 100 || (w.Count == 0 && w.Percent == 0):
			return fmt.Errorf("wave %d (%s): give a count >= 1 or a percent in (0, 100]", i+1, w)
		case w.Percent > 0 && w.Percent <= lastPct:
			return fmt.Errorf("wave %d (%s): percents must increase (the plan is cumulative: each entry is how far the rollout has got)", i+1, w)
		case w.Count > 0 && w.Count <= lastCount:
			return fmt.Errorf("wave %d (%s): counts must increase (the plan is cumulative: each entry is how far the rollout has got)", i+1, w)
		}
		lastCount, lastPct = max(lastCount, w.Count), max(lastPct, w.Percent)
	}
	if last := p[len(p)-1]; last.Percent != 100 {
		return fmt.Errorf("the last wave is %s: end the plan with \"100%%\" so every node of the inventory is covered", last)
	}
	return nil
}

// Resolve cuts a fleet of n nodes into waves: the end index of each wave
// in inventory order. Entries that would add no node (5% of a small fleet
// after 10) are dropped.
func (p WavePlan) Resolve(n int) []int {
	var ends []int
	prev := 0
	for _, w := range p {
		if t := w.target(n); t > prev {
			ends = append(ends, t)
			prev = t
		}
	}
	return ends
}

// FailureBudget is how many failed nodes a wave may have before the
// rollout pauses itself: a count ("2") or a percent of the wave ("10%",
// rounded down). Unreachable nodes (nothing changed on them) count only
// when CountUnreachable is set.
type FailureBudget struct {
	Count            int     `json:"count,omitempty"`
	Percent          float64 `json:"percent,omitempty"`
	CountUnreachable bool    `json:"countUnreachable,omitempty"`
}

// ParseFailureBudget reads "2" or "10%".
func ParseFailureBudget(s string) (FailureBudget, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 100 {
			return FailureBudget{}, fmt.Errorf("failure budget %q: a percent must be in [0, 100]", s)
		}
		return FailureBudget{Percent: v}, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return FailureBudget{}, fmt.Errorf("failure budget %q: give a count >= 0 (like 2) or a percent (like \"10%%\")", s)
	}
	return FailureBudget{Count: v}, nil
}

// Allowed is the number of failures a wave of size nodes may have.
func (b FailureBudget) Allowed(size int) int {
	if b.Percent > 0 {
		return int(math.Floor(b.Percent * float64(size) / 100))
	}
	return b.Count
}

// Counts says whether an outcome uses the failure budget.
func (b FailureBudget) Counts(o Outcome) bool {
	switch o {
	case OutcomeFailedRolledBack, OutcomeFailedNeedsAttention, OutcomeRebooted:
		return true
	case OutcomeUnreachable:
		return b.CountUnreachable
	}
	return false
}

// MaintenanceWindow is a daily window in UTC when waves may start nodes:
// from Start ("22:00") for Duration, on the given weekdays (empty: every
// day; "mon".."sun", the day the window opens).
type MaintenanceWindow struct {
	Start    string        `json:"start"`
	Duration time.Duration `json:"duration"`
	Days     []string      `json:"days,omitempty"`
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// Validate checks the window can be used.
func (m MaintenanceWindow) Validate() error {
	if _, err := m.startOffset(); err != nil {
		return err
	}
	if m.Duration <= 0 || m.Duration > 24*time.Hour {
		return fmt.Errorf("maintenance window duration %s: give a duration in (0, 24h]", m.Duration)
	}
	for _, d := range m.Days {
		if _, ok := weekdays[strings.ToLower(d)]; !ok {
			return fmt.Errorf("maintenance window day %q: use mon, tue, wed, thu, fri, sat or sun", d)
		}
	}
	return nil
}

func (m MaintenanceWindow) startOffset() (time.Duration, error) {
	t, err := time.Parse("15:04", m.Start)
	if err != nil {
		return 0, fmt.Errorf("maintenance window start %q: give a UTC time of day like \"22:00\"", m.Start)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

func (m MaintenanceWindow) dayAllowed(d time.Weekday) bool {
	if len(m.Days) == 0 {
		return true
	}
	for _, s := range m.Days {
		if weekdays[strings.ToLower(s)] == d {
			return true
		}
	}
	return false
}

// NextOpen returns zero when t is inside the window, else how long until
// it opens.
func (m MaintenanceWindow) NextOpen(t time.Time) time.Duration {
	off, err := m.startOffset()
	if err != nil {
		return 0
	}
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	for i := -1; i <= 8; i++ {
		d := day.AddDate(0, 0, i)
		if !m.dayAllowed(d.Weekday()) {
			continue
		}
		open := d.Add(off)
		if !t.Before(open) && t.Before(open.Add(m.Duration)) {
			return 0
		}
		if open.After(t) {
			return open.Sub(t)
		}
	}
	return 0
}
