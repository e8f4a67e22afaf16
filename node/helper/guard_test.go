package helper_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kmemfix/kmemfix/node"
	"github.com/kmemfix/kmemfix/sim/simnode"
)

func wantError(t *testing.T, r result, exit int, code, says string) {
	t.Helper()
	if r.exit != exit || r.resp.OK || r.resp.Error == nil || r.resp.Error.Code != code || !strings.Contains(r.resp.Error.Message, says) {
		t.Fatalf("want exit %d code %s saying %q, got exit %d: %.1500s", exit, code, says, r.exit, r.raw)
	}
}

// TestLockKeepsRunsApart: a second run while the node lock is held is
// refused (retryable), whatever it asks.
func TestLockKeepsRunsApart(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 5})
	release, err := n.Lock("/var/lib/kmemfix/lock")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := run(t, n, "service", "stop", "kubelet")
	wantError(t, r, node.ExitLocked, node.CodeLocked, "retry")
	if !r.resp.Error.Retryable || n.ServiceState("kubelet") != "active" {
		t.Fatalf("locked run acted or is not retryable: %+v", r.resp.Error)
	}
	_ = release()
	must(t, n, "service", "stop", "kubelet")
}

// TestRebootDetected: a step given the boot id inspect saw refuses once the
// node rebooted, and a journal from before the boot is never acted on.
func TestRebootDetected(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 10})
	boot := n.BootID()
	for _, step := range procedure[:4] { // through mirror
		must(t, n, append([]string{"--boot-id", boot}, step...)...)
	}
	n.Reboot()
	r, _ := run(t, n, "--boot-id", boot, "move")
	wantError(t, r, node.ExitRefused, node.CodeRebooted, "rebooted")
	r, _ = run(t, n, "move")
	wantError(t, r, node.ExitRefused, node.CodeRebooted, "rebooted since the snapshot")
	// The compensation path after a reboot closes the stale journal.
	must(t, n, "restore")
	if r := must(t, n, "inspect"); !strings.Contains(r.raw, `"phase":"idle"`) {
		t.Fatalf("after restore: %s", r.raw)
	}
}

// TestPastCommitIsForwardOnly: once commit has started, restore refuses
// and mirror/move refuse; commit and rebuild finish the job.
func TestPastCommitIsForwardOnly(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 10})
	b := capture(t, n)
	for _, step := range procedure[:stepsBeforeCommit] {
		must(t, n, step...)
	}
	n.FailNth(simnode.OpRmdir, 3, 5) // EIO on the third rmdir of commit
	r, _ := run(t, n, "commit")
	if r.exit == 0 {
		t.Fatal("commit did not fail")
	}
	for _, step := range []string{"restore", "mirror", "move"} {
		r, _ := run(t, n, step)
		wantError(t, r, node.ExitRefused, node.CodePastCommit, "commit point")
	}
	for _, step := range procedure[stepsBeforeCommit:] {
		must(t, n, step...)
	}
	checkInvariants(t, n, b, fixedKubeletSHA)
}

// TestTamperedJournalNeedsAttention: a journal edited to point outside the
// tree (or otherwise changed) is never acted on.
func TestTamperedJournalNeedsAttention(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 5})
	must(t, n, "service", "stop", "kubelet")
	must(t, n, "snapshot")
	raw, err := n.ReadFile("/var/lib/kmemfix/journal.json")
	if err != nil {
		t.Fatal(err)
	}
	var j node.Journal
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	j.Dirs[len(j.Dirs)-1].Path = "../../../etc"
	edited, _ := json.Marshal(j)
	if err := n.WriteFileAtomic("/var/lib/kmemfix/journal.json", bytes.NewReader(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _ := run(t, n, "mirror")
	wantError(t, r, node.ExitNeedsHelp, node.CodeNeedsHelp, "digest")
}

// TestSnapshotRefusesRunningKubelet: the tree must not churn under the
// snapshot.
func TestSnapshotRefusesRunningKubelet(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 5})
	r, _ := run(t, n, "snapshot")
	wantError(t, r, node.ExitRefused, node.CodeRefused, "stop it first")
}

// TestTreeChangedAfterSnapshot: a cgroup created after the snapshot stops
// the move before any process goes where the mirror has no place for it.
func TestTreeChangedAfterSnapshot(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 5})
	for _, step := range procedure[:4] {
		must(t, n, step...)
	}
	if err := n.Mkdir("/sys/fs/cgroup/memory/kubepods/podnew"); err != nil {
		t.Fatal(err)
	}
	r, _ := run(t, n, "move")
	wantError(t, r, node.ExitRefused, node.CodeTreeChanged, "podnew")
}

// TestKubeletSwapChecksum: a staged binary with the wrong sha256 is never
// installed, and restore puts the original back.
func TestKubeletSwapChecksum(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 1})
	orig, _ := n.ReadFile("/usr/bin/kubelet")
	r, _ := run(t, n, "kubelet", "swap", "--binary", "/usr/bin/kubelet", "--new", stagedKubelet, "--sha256", strings.Repeat("a", 64))
	wantError(t, r, node.ExitRefused, node.CodeChecksum, "expected")
	must(t, n, procedure[1]...)
	must(t, n, procedure[1]...) // idempotent: the backup is still the original
	must(t, n, "kubelet", "restore", "--binary", "/usr/bin/kubelet")
	if now, _ := n.ReadFile("/usr/bin/kubelet"); !bytes.Equal(now, orig) {
		t.Fatal("restore did not bring the original kubelet back")
	}
	if _, err := n.Stat("/usr/bin/kubelet.kmemfix-orig"); err == nil {
		t.Fatal("backup left behind after restore")
	}
}

// TestUsageErrors: bad input is named with its fix.
func TestUsageErrors(t *testing.T) {
	n := simnode.New(simnode.Config{})
	for _, args := range [][]string{
		{"frobnicate"},
		{"--kubepods", "../etc", "snapshot"},
		{"service", "stop"},
		{"kubelet", "swap", "--binary", "relative/kubelet", "--new", "/x", "--sha256", strings.Repeat("a", 64)},
		{"run-commands", "--argv", "systemctl restart cadvisor"},
	} {
		r, _ := run(t, n, args...)
		if r.exit != node.ExitUsage || r.resp.Error == nil || r.resp.Error.Code != node.CodeUsage {
			t.Errorf("%q: want a usage error, got exit %d %s", args, r.exit, r.raw)
		}
	}
}

// TestKubeletSwapRefusesTheInstalledHash: configuring the installed
// kubelet's own sha256 as the replacement's is caught by the staged file's
// check, not passed as "swapped already".
func TestKubeletSwapRefusesTheInstalledHash(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 1})
	installed, _ := n.ReadFile("/usr/bin/kubelet")
	r, _ := run(t, n, "kubelet", "swap", "--binary", "/usr/bin/kubelet", "--new", stagedKubelet, "--sha256", sha256Hex(installed))
	wantError(t, r, node.ExitRefused, node.CodeChecksum, "fix the configured sha256")
}

// TestCrashAfterTheLastOperation: --crash-after-ops equal to a step's
// operation count dies after acting, before reporting, and the rerun
// converges.
func TestCrashAfterTheLastOperation(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 3})
	ops := n.Ops()
	must(t, n, "service", "stop", "kubelet")
	stopOps := n.Ops() - ops
	must(t, n, "service", "start", "kubelet")
	if _, crashed := run(t, n, "--crash-after-ops", fmt.Sprint(stopOps), "service", "stop", "kubelet"); !crashed {
		t.Fatal("the helper reported instead of dying after its last operation")
	}
	if n.ServiceState("kubelet") == "active" {
		t.Fatal("the operation before the crash did not take effect")
	}
	n.ReleaseLocks()
	must(t, n, "service", "stop", "kubelet")
}

// TestSwappinessDriftStopsAtMirror: what inspect's blocker prevents. On
// 3.10 the mirror cannot get kubepods' swappiness back once vm.swappiness
// changed; the mirror step fails before any process moves, and the
// compensation leaves the node as it was.
func TestSwappinessDriftStopsAtMirror(t *testing.T) {
	n := newNode(t, simnode.PodsSpec{Containers: 10})
	b := capture(t, n)
	n.SetVMSwappiness(10)
	for _, step := range procedure[:3] {
		must(t, n, step...)
	}
	r, _ := run(t, n, "mirror")
	wantError(t, r, node.ExitFailed, node.CodeKernel, "memory.swappiness")
	must(t, n, "restore")
	must(t, n, "kubelet", "restore", "--binary", "/usr/bin/kubelet")
	must(t, n, "service", "start", "kubelet")
	checkInvariants(t, n, b, b.binary)
}
