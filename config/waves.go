package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Waves are cumulative: each entry says how much of the fleet is done once
// that wave ends, as a node count ("10") or a share of the fleet ("25%").
// ["1", "5%", "25%", "100%"] is a canary node, then up to 5%, 25%, and the
// rest. The last entry must be "100%" so no node is left out.

// Wave is one parsed wave entry.
type Wave struct {
	Count   int     // set when the entry is a count
	Percent float64 // set when the entry is a share, 0 < p <= 100
}

// ParseWave reads "10" or "25%".
func ParseWave(s string) (Wave, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || f <= 0 || f > 100 {
			return Wave{}, fmt.Errorf("%q is not a share between 0%% and 100%%", s)
		}
		return Wave{Percent: f}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return Wave{}, fmt.Errorf("%q is neither a node count (1 or more) nor a share like \"25%%\"", s)
	}
	return Wave{Count: n}, nil
}

// CheckWaves returns every problem of a wave list, as sentences naming the
// entry ("wave 2 ...").
func CheckWaves(specs []string) []string {
	if len(specs) == 0 {
		return []string{"is empty"}
	}
	var out []string
	var lastPct float64
	lastCount := 0
	for i, s := range specs {
		w, err := ParseWave(s)
		if err != nil {
			out = append(out, fmt.Sprintf("wave %d: %v", i+1, err))
			continue
		}
		switch {
		case w.Percent > 0 && w.Percent <= lastPct:
			out = append(out, fmt.Sprintf("wave %d: %q is not above an earlier wave's share; waves are cumulative, each must reach further", i+1, s))
		case w.Count > 0 && w.Count <= lastCount:
			out = append(out, fmt.Sprintf("wave %d: %q is not above an earlier wave's count; waves are cumulative, each must reach further", i+1, s))
		}
		lastPct = max(lastPct, w.Percent)
		lastCount = max(lastCount, w.Count)
	}
	if last := strings.TrimSpace(specs[len(specs)-1]); last != "100%" {
		out = append(out, fmt.Sprintf("the last wave is %q, not \"100%%\": nodes after it would never be remediated", last))
	}
	return out
}

// ResolveWaves turns wave specs into wave sizes for a fleet of n nodes.
// Waves that would be empty (5% of 10 nodes after a canary of 1) are dropped;
// the sizes add up to n.
func ResolveWaves(specs []string, n int) ([]int, error) {
	if ps := CheckWaves(specs); len(ps) > 0 {
		return nil, errors.New(strings.Join(ps, "; "))
	}
	var sizes []int
	done := 0
	for i, s := range specs {
		w, _ := ParseWave(s)
		target := min(w.Count, n)
		if w.Percent > 0 {
			target = int(math.Ceil(w.Percent * float64(n) / 100))
		}
		if target < done {
			return nil, fmt.Errorf("wave %d (%q) covers %d nodes of %d, fewer than the %d already covered by earlier waves; order the waves so they grow", i+1, s, target, n, done)
		}
		if target > done {
			sizes = append(sizes, target-done)
			done = target
		}
	}
	return sizes, nil
}

// ParseBudget reads a failure budget: a count ("3") or a share ("2%").
// It returns exactly one of count and percent (0 for "0").
func ParseBudget(s string) (count int, percent float64, err error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return 0, 0, errors.New("is not a share between 0% and 100%")
		}
		return 0, f, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, 0, errors.New(`is neither a count (0 or more) nor a share like "2%"`)
	}
	return n, 0, nil
}
