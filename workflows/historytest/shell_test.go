package historytest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/kmemfix/kmemfix/activities"
	"github.com/kmemfix/kmemfix/node"
)

// scriptedShell answers like the node helper on a healthy affected node;
// failOn makes one command fail on a named node.
type scriptedShell struct {
	mu     sync.Mutex
	failOn map[string]string // node -> command that fails (not retryable)
}

func (s *scriptedShell) RunHelper(ctx context.Context, n activities.NodeRef, args []string, progress func(node.Progress)) ([]byte, int, error) {
	i := slices.Index(args, "--progress")
	cmd := args[i+1:]
	s.mu.Lock()
	fail := s.failOn[n.Name]
	s.mu.Unlock()
	if cmd[0] == "move" && strings.HasPrefix(n.Name, "slow") {
		<-ctx.Done() // a move that only a cancel ends
		return nil, 0, ctx.Err()
	}
	resp := node.Response{OK: true, Command: cmd[0], Protocol: node.ProtocolVersion, BootID: "boot-1"}
	exit := node.ExitOK
	switch cmd[0] {
	case "inspect":
		resp.Result = node.InspectResult{Verdict: node.VerdictAffected, Phase: node.PhaseIdle, BootID: "boot-1", KubepodsKmem: true,
			SubtreeDirs: 40, IDsInUse: 30000, LeakedIDs: 29000, Headroom: node.Headroom{Known: true, Required: 180, Available: 35535},
			Reasons: []string{"kubepods has memory.kmem.slabinfo"}}
	case "service":
		state := "active"
		if cmd[1] == "stop" {
			state = "inactive"
		}
		resp.Result = node.ServiceResult{Unit: cmd[2], State: state, Healthy: state == "active"}
	case "kubelet":
		resp.Result = node.KubeletSwapResult{Binary: "/usr/bin/kubelet", Changed: true}
	case "snapshot":
		resp.Result = node.SnapshotResult{Journal: "/var/lib/kmemfix/journal.json", Digest: "sha256:1234", Dirs: 40, Procs: 120}
	case "verify":
		resp.Result = node.VerifyResult{Dirs: 40, ProcsAlive: 118, ProcsExited: 2}
	case "run-commands":
		resp.Result = node.CommandsResult{Ran: []node.CommandOutcome{{Argv: []string{"systemctl", "restart", "cadvisor"}}}}
	default:
		progress(node.Progress{Step: cmd[0], Done: 40, Total: 40})
		resp.Result = node.TreeResult{Created: 40, Moved: 120, Passes: 2}
	}
	if cmd[0] == fail {
		resp.OK, resp.Result = false, nil
		resp.Error = &node.Error{Code: node.CodeNotConverged, Message: "kubepods/burstable/pod1 kept getting new processes", Retryable: false}
		exit = node.ExitFailed
	}
	b, err := json.Marshal(resp)
	return b, exit, err
}

func (s *scriptedShell) EnsureHelper(context.Context, activities.NodeRef) (string, error) {
	return "/var/lib/kmemfix/kmemfix-node", nil
}

func (s *scriptedShell) EnsureFile(context.Context, activities.NodeRef, string, string, string) error {
	return nil
}
