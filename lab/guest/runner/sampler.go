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
	every   time.Duration
	stop    chan struct{}
	done    sync.WaitGroup
	samples int
	seen    map[string]bool
	issues  []string
}

var limitFiles = []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}

func startSampler(before tree, every time.Duration) *sampler {
	s := &sampler{before: before, every: every, stop: make(chan struct{}), seen: map[string]bool{}}
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

// finish stops the sampler and returns its check.
func (s *sampler) finish() wire.Check {
	close(s.stop)
	s.done.Wait()
	return newCheck("limits-held-throughout", s.issues, fmt.Sprintf("%d samples every %s", s.samples, s.every))
}

func (s *sampler) sample() {
	s.samples++
	for _, rel := range s.before.rels() {
		for _, pid := range s.before[rel].pids {
			cg, ok := memcgOf(fmt.Sprintf("/proc/%d", pid))
			if !ok {
				continue
			}
			s.checkPlace(pid, rel, cg)
		}
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
