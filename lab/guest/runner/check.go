package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kmemfix/kmemfix/lab/guest/wire"
)

// maxProblems bounds the problems listed per check.
const maxProblems = 12

// checker compares the node after a scenario with the node before it.
type checker struct {
	before tree
	idents map[int]identity
	expect expectations
	hogRel string
	hogMiB int
}

func newCheck(name string, problems []string, detail string) wire.Check {
	c := wire.Check{Name: name, OK: len(problems) == 0, Detail: detail}
	if len(problems) > maxProblems {
		c.Problems = append(problems[:maxProblems:maxProblems], fmt.Sprintf("... and %d more", len(problems)-maxProblems))
	} else {
		c.Problems = problems
	}
	return c
}

// all runs every end-state check.
func (c *checker) all() []wire.Check {
	after, err := readTree(filepath.Join(cgroupRoot, kubepods))
	if err != nil {
		return []wire.Check{{Name: "kubepods-rebuilt", OK: false, Detail: err.Error()}}
	}
	return []wire.Check{
		c.treeSame(after),
		c.valuesSame(after),
		c.procsInPlace(),
		c.threadsInPlace(),
		c.containersInPlace(),
		c.mirrorGone(),
		c.hogCharged(),
		c.kubeletRunning(),
		c.kubeletBinary(),
		c.noInjection(),
	}
}

func (c *checker) treeSame(after tree) wire.Check {
	var problems []string
	for _, rel := range c.before.rels() {
		if _, ok := after[rel]; !ok {
			problems = append(problems, fmt.Sprintf("missing %q", rel))
		}
	}
	for _, rel := range after.rels() {
		if _, ok := c.before[rel]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected %q", rel))
		}
	}
	return newCheck("kubepods-rebuilt", problems, fmt.Sprintf("%d cgroups before, %d after", len(c.before), len(after)))
}

func (c *checker) valuesSame(after tree) wire.Check {
	var problems []string
	n := 0
	for _, rel := range c.before.rels() {
		a, ok := after[rel]
		if !ok {
			continue
		}
		for f, want := range c.before[rel].values {
			n++
			if got := a.values[f]; got != want {
				problems = append(problems, fmt.Sprintf("%q %s: %s, was %s", rel, f, got, want))
			}
		}
	}
	return newCheck("values-preserved", problems, fmt.Sprintf("%d values compared", n))
}

// procsInPlace: every process that was in kubepods and still lives sits in
// the cgroup with the same relative path.
func (c *checker) procsInPlace() wire.Check {
	var problems []string
	alive, gone := 0, 0
	for _, rel := range c.before.rels() {
		for _, pid := range c.before[rel].pids {
			id, ok := procIdentity(pid)
			if !ok || id != c.idents[pid] {
				gone++
				continue
			}
			cg, ok := memcgOf(fmt.Sprintf("/proc/%d", pid))
			if !ok {
				gone++
				continue
			}
			alive++
			if want := "/" + filepath.Join(kubepods, rel); cg != want {
				problems = append(problems, fmt.Sprintf("pid %d in %q, was %q", pid, cg, want))
			}
		}
	}
	return newCheck("procs-in-place", problems, fmt.Sprintf("%d alive, %d exited", alive, gone))
}

// threadsInPlace: every thread of those processes is with its leader.
func (c *checker) threadsInPlace() wire.Check {
	var problems []string
	threads := 0
	for _, rel := range c.before.rels() {
		want := "/" + filepath.Join(kubepods, rel)
		for _, pid := range c.before[rel].pids {
			tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			if err != nil {
				continue
			}
			for _, t := range tasks {
				cg, ok := memcgOf(fmt.Sprintf("/proc/%d/task/%s", pid, t.Name()))
				if !ok {
					continue
				}
				threads++
				if cg != want {
					problems = append(problems, fmt.Sprintf("thread %s of %d in %q, want %q", t.Name(), pid, cg, want))
				}
			}
		}
	}
	return newCheck("threads-in-place", problems, fmt.Sprintf("%d threads", threads))
}

// containersInPlace: every live process carrying a container's LABCTR,
// including those forked during the migration, is in that container.
func (c *checker) containersInPlace() wire.Check {
	var problems []string
	n := 0
	for _, pid := range allPIDs() {
		ctr, ok := labctrOf(pid)
		if !ok || ctr == "probe" {
			continue
		}
		cg, ok := memcgOf(fmt.Sprintf("/proc/%d", pid))
		if _, alive := procIdentity(pid); !ok || !alive {
			continue
		}
		n++
		if want := "/" + filepath.Join(kubepods, ctr); cg != want {
			problems = append(problems, fmt.Sprintf("pid %d of %q in %q", pid, ctr, cg))
		}
	}
	return newCheck("containers-in-place", problems, fmt.Sprintf("%d container processes", n))
}

func (c *checker) mirrorGone() wire.Check {
	var problems []string
	if _, err := os.Stat(filepath.Join(cgroupRoot, mirror)); !errors.Is(err, fs.ErrNotExist) {
		problems = append(problems, fmt.Sprintf("%s still there (%v)", mirror, err))
	}
	return newCheck("mirror-gone", problems, "")
}

// hogCharged: the anonymous memory of the hog is charged to its container
// again (move_charge_at_immigrate carried it out and back).
func (c *checker) hogCharged() wire.Check {
	if c.hogRel == "" {
		return newCheck("charges-followed", nil, "no hog container in this node")
	}
	b, err := os.ReadFile(filepath.Join(cgroupRoot, kubepods, c.hogRel, "memory.usage_in_bytes"))
	var problems []string
	usage, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	switch {
	case err != nil:
		problems = append(problems, err.Error())
	case perr != nil:
		problems = append(problems, perr.Error())
	case usage < int64(c.hogMiB)<<20:
		problems = append(problems, fmt.Sprintf("hog container charges %d bytes, its process holds %d MiB", usage, c.hogMiB))
	}
	return newCheck("charges-followed", problems, fmt.Sprintf("hog container usage %d MiB", usage>>20))
}

func (c *checker) kubeletRunning() wire.Check {
	var problems []string
	out, err := exec.Command("/bin/systemctl", "is-active", "kubelet").Output() //nolint:noctx // the guest runner has no context: the host's scenario timeout kills the VM
	if err != nil || strings.TrimSpace(string(out)) != "active" {
		problems = append(problems, fmt.Sprintf("systemctl is-active kubelet: %q %v", strings.TrimSpace(string(out)), err))
	}
	flavor, _ := os.ReadFile("/run/lab/kubelet.flavor")
	if got := strings.TrimSpace(string(flavor)); got != c.expect.kubeletFlavor {
		problems = append(problems, fmt.Sprintf("running kubelet is %q, want %q", got, c.expect.kubeletFlavor))
	}
	return newCheck("kubelet-running", problems, "flavor "+c.expect.kubeletFlavor)
}

func (c *checker) kubeletBinary() wire.Check {
	var problems []string
	if got, err := sha256File(kubeletBin); err != nil || got != c.expect.kubeletSHA {
		problems = append(problems, fmt.Sprintf("%s sha256 %s (%v), want %s", kubeletBin, got, err, c.expect.kubeletSHA))
	}
	return newCheck("kubelet-binary", problems, "")
}

// noInjection: no hostile container name was ever run by a shell.
func (c *checker) noInjection() wire.Check {
	matches, _ := filepath.Glob("/pwned*")
	more, _ := filepath.Glob("/tmp/pwned*")
	matches = append(matches, more...)
	sort.Strings(matches)
	return newCheck("no-shell-injection", matches, "")
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
