package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// sampler watches the node while the helper works: every container process
// must sit in its own relative path (under kubepods or the mirror), and that
// cgroup and its ancestors must carry the limits they had before. It proves
// "no container ever runs without its memory limit" on the real kernel,
// between and during the helper's runs.
type sampler struct {
	before  tree
	tracked map[int]string // pid -> its relative path, the processes watched
	every   time.Duration
	stop    chan struct{}
	done    sync.WaitGroup
	samples int
	seen    map[string]bool
	issues  []string
}

var limitFiles = []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}

// startSampler watches up to n container processes (those of the given
// containers first, then one in every few others), every interval. Reading
// /proc and cgroup files costs real time under emulation: the subset keeps
// the sampler from slowing the helper it watches.
func startSampler(before tree, every time.Duration, n int, first []string) *sampler {
	s := &sampler{before: before, tracked: pickTracked(before, n, first), every: every, stop: make(chan struct{}), seen: map[string]bool{}}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

// finish stops the sampler, takes a last sample (so even a scenario shorter
// than the interval is sampled once) and returns its check.
func (s *sampler) finish() wire.Check {
	close(s.stop)
	s.done.Wait()
	s.sample()
	return newCheck("limits-held-throughout", s.issues, fmt.Sprintf("%d samples of %d processes every %s", s.samples, len(s.tracked), s.every))
}

// pickTracked chooses the processes to watch: every process of the first
// containers, then the first process of evenly spread others, n at most.
func pickTracked(before tree, n int, first []string) map[int]string {
	tracked := map[int]string{}
	for _, rel := range first {
		for _, pid := range before[rel].pids {
			tracked[pid] = rel
		}
	}
	var rest []string
	for _, rel := range before.rels() {
		if len(before[rel].pids) > 0 {
			rest = append(rest, rel)
		}
	}
	step := max(1, len(rest)/max(1, n-len(tracked)))
	for i := 0; i < len(rest) && len(tracked) < n; i += step {
		tracked[before[rest[i]].pids[0]] = rest[i]
	}
	return tracked
}

func (s *sampler) sample() {
	s.samples++
	for pid, rel := range s.tracked {
		cg, ok := memcgOf(fmt.Sprintf("/proc/%d", pid))
		if !ok {
			continue
		}
		s.checkPlace(pid, rel, cg)
	}
}

func (s *sampler) checkPlace(pid int, rel, cg string) {
	top := ""
	for _, t := range []string{kubepods, mirror} {
		if cg == "/"+filepath.Join(t, rel) {
			top = t
		}
	}
	if top == "" {
		s.note(fmt.Sprintf("pid %d of %q seen in %q", pid, rel, cg))
		return
	}
	// The cgroup and each ancestor up to the top must hold the values the
	// same relative path held before.
	for r := rel; ; r = parentRel(r) {
		dir := filepath.Join(cgroupRoot, top, r)
		for _, f := range limitFiles {
			want, ok := s.before[r].values[f]
			if !ok {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return // moved on or removed meanwhile: the next sample sees it
			}
			if got := strings.TrimSpace(string(b)); got != want {
				s.note(fmt.Sprintf("pid %d in %q: %s of %q is %s, want %s", pid, cg, f, filepath.Join(top, r), got, want))
			}
		}
		if r == "" {
			return
		}
	}
}

func parentRel(rel string) string {
	d := filepath.Dir(rel)
	if d == "." {
		return ""
	}
	return d
}

// note records an issue once.
func (s *sampler) note(issue string) {
	if s.seen[issue] {
		return
	}
	s.seen[issue] = true
	s.issues = append(s.issues, issue)
}
