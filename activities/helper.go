package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/kmemfix/kmemfix/node"
)

// Flags are the helper's global flags for one node. BootID is the boot id
// inspect returned: every later step passes it, so the helper refuses with
// "rebooted" when the node restarted in between.
type Flags struct {
	CgroupRoot string `json:"cgroupRoot,omitempty"`
	Kubepods   string `json:"kubepods,omitempty"`
	Mirror     string `json:"mirror,omitempty"`
	JournalDir string `json:"journalDir,omitempty"`
	// KubeletUnit is the kubelet's systemd unit: inspect reports it and
	// snapshot refuses while it runs.
	KubeletUnit string `json:"kubeletUnit,omitempty"`
	BootID      string `json:"bootID,omitempty"`
}

func (f Flags) args() []string {
	var out []string
	add := func(flag, v string) {
		if v != "" {
			out = append(out, flag, v)
		}
	}
	add("--cgroup-root", f.CgroupRoot)
	add("--kubepods", f.Kubepods)
	add("--mirror", f.Mirror)
	add("--journal-dir", f.JournalDir)
	add("--kubelet-unit", f.KubeletUnit)
	add("--boot-id", f.BootID)
	return out
}

// heartbeatEvery is how often a running helper call heartbeats even when
// the helper prints no progress, so a lost worker is noticed and a
// cancellation is delivered.
const heartbeatEvery = 5 * time.Second

// wireResponse is node.Response with the result left raw, to decode into
// the command's own result type.
type wireResponse struct {
	OK       bool            `json:"ok"`
	Command  string          `json:"command"`
	Helper   string          `json:"helper"`
	Protocol int             `json:"protocol"`
	BootID   string          `json:"bootID,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    *node.Error     `json:"error,omitempty"`
}

// runHelper runs one helper command on n and decodes its result into out
// (a pointer to the command's result type). On a failed command it returns
// an application error typed from the helper's error code; out is still
// filled when the helper returned a result (verify lists its problems).
func (a *Activities) runHelper(ctx context.Context, n NodeRef, f Flags, command []string, out any) error {
	args := append(append(f.args(), "--progress"), command...)
	stop := startHeartbeat(ctx)
	stdout, exit, err := a.Shell.RunHelper(ctx, n, args, stop.progress)
	stop.stop()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if err != nil {
		return a.transportError(fmt.Sprintf("run kmemfix-node %s on %s", command[0], n.Name), err)
	}
	var resp wireResponse
	if jerr := json.Unmarshal(stdout, &resp); jerr != nil {
		msg := fmt.Sprintf("kmemfix-node %s on %s exited %d with output that is not a Response (%v): is the helper the worker's build?",
			command[0], n.Name, exit, jerr)
		return appError(msg, ErrBadOutput, exit != node.ExitOK, nil)
	}
	if resp.Protocol != node.ProtocolVersion {
		msg := fmt.Sprintf("kmemfix-node on %s speaks protocol %d, the worker %d: reinstall the helper (EnsureHelper)",
			n.Name, resp.Protocol, node.ProtocolVersion)
		return appError(msg, ErrProtocol, false, nil)
	}
	if len(resp.Result) > 0 && out != nil {
		if jerr := json.Unmarshal(resp.Result, out); jerr != nil {
			return appError(fmt.Sprintf("decode kmemfix-node %s result: %v", command[0], jerr), ErrBadOutput, false, nil)
		}
	}
	if !resp.OK || exit != node.ExitOK {
		if out != nil && len(resp.Result) > 0 {
			return helperError(command[0], exit, resp.Error, out)
		}
		return helperError(command[0], exit, resp.Error)
	}
	return nil
}

// heartbeater records a heartbeat for each progress line and every
// heartbeatEvery while a helper runs.
type heartbeater struct {
	mu   sync.Mutex
	last node.Progress
	done chan struct{}
	ctx  context.Context
	wg   sync.WaitGroup
}

func startHeartbeat(ctx context.Context) *heartbeater {
	h := &heartbeater{done: make(chan struct{}), ctx: ctx}
	if !activity.IsActivity(ctx) {
		return h
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.mu.Lock()
				p := h.last
				h.mu.Unlock()
				activity.RecordHeartbeat(ctx, p)
			}
		}
	}()
	return h
}

func (h *heartbeater) progress(p node.Progress) {
	h.mu.Lock()
	h.last = p
	h.mu.Unlock()
	if activity.IsActivity(h.ctx) {
		activity.RecordHeartbeat(h.ctx, p)
	}
}

func (h *heartbeater) stop() {
	close(h.done)
	h.wg.Wait()
}
