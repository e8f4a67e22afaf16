package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kmemfix/kmemfix/node"
)

// Helper is the node helper's entry point, run in-process for an exec of an
// accepted helper binary: node/helper.Main in production wiring, a fake in
// tests. args excludes the program path.
type Helper func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, sys node.System) int

// Options configures a simulated fleet.
type Options struct {
	// Nodes is the number of nodes, named Prefix + a zero-padded index
	// (node-000, node-001, ...).
	Nodes  int
	Prefix string // default "node-"
	// User is the login user every node accepts (default "root"). A
	// non-root user gets sudo -n without a password, as fleets set it up.
	User string
	// Defaults applies to every node; Overrides are applied after it, in
	// order, to the nodes they select.
	Defaults  NodeSpec
	Overrides []Override
	// Helper runs an exec of an accepted helper binary. Nil: every helper
	// exec fails with exit 126 and says no helper is wired.
	Helper Helper
	// HelperBuilds are the hex sha256 sums of the helper builds by
	// architecture (amd64, arm64): a node runs the builds of its own
	// architecture; another architecture's build fails as on a real node
	// (exit 126, Exec format error), and so does any other file.
	HelperBuilds map[string][]string
	// HelperSHA256s are builds that run on every architecture (test
	// stand-ins that are no real binary).
	HelperSHA256s []string
	// Arch is the nodes' architecture, amd64 (default) or arm64; `uname -m`
	// reports it as x86_64 or aarch64. NodeSpec.Arch overrides it per node.
	Arch string
	// Dir and InventoryFile are where Run writes the client key,
	// known_hosts and the inventory (see WriteFiles).
	Dir           string
	InventoryFile string
}

// NodeSpec is one node's simulated state and faults.
type NodeSpec struct {
	Containers     int    // containers under kubepods
	Layout         string // qos, direct or mixed (default mixed)
	LeakedIDs      int    // css ids leaked by earlier pods
	Exhausted      bool   // css ids used up: mkdir under memory fails, needs a reboot
	KubeletVersion string // e.g. 1.12.3 (buggy, kmem on) or 1.14.10 (fixed)
	Arch           string // amd64 or arm64; empty: Options.Arch

	// ChurnEvery > 0: a running kubelet deletes and creates a pod every
	// ChurnEvery, as on a busy node (the procedure must not race it).
	ChurnEvery time.Duration

	HandshakeLatency time.Duration // before the server's first byte
	ExecLatency      time.Duration // before every exec starts

	Faults Faults
}

// Faults are what can go wrong with a node.
type Faults struct {
	Unreachable    bool // nothing listens on its port: dial refused
	HandshakeHang  bool // accepts TCP, never says a word
	AuthRefusal    bool // refuses every key
	ChangedHostKey bool // presents a key other than the one in known_hosts
	// DropExec > 0: the DropExec-th exec on this node runs to completion,
	// then the TCP connection is cut before the exit status is sent.
	DropExec int
	// KubeletFailsStart: starting the kubelet service fails.
	KubeletFailsStart bool
	// MkdirENOSPC > 0: the MkdirENOSPC-th mkdir of a cgroup fails with ENOSPC.
	MkdirENOSPC int
	// RebootAfterExec > 0: the node reboots (new boot id, cgroup tree reset,
	// every connection cut) after its RebootAfterExec-th helper exec, at
	// its next request: that exec's exit status arrives, the next session
	// on the same connection fails as on a dead connection, and a new
	// connection finds the rebooted node.
	RebootAfterExec int
}

// Override changes the spec of the nodes Nodes selects: a name, a
// path.Match pattern (node-00*), or a percentage (5%) spread evenly over
// the fleet.
type Override struct {
	Nodes string
	Set   func(*NodeSpec)
}

func (ov Override) selects(i int, name string) bool {
	if pct, ok := strings.CutSuffix(ov.Nodes, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil {
			return false
		}
		return math.Floor(float64(i+1)*p/100) > math.Floor(float64(i)*p/100)
	}
	ok, _ := path.Match(ov.Nodes, name)
	return ok
}

func (o Options) withDefaults() (Options, error) {
	if o.Nodes <= 0 {
		return o, errors.New("fleet: Options.Nodes must be at least 1")
	}
	if o.Prefix == "" {
		o.Prefix = "node-"
	}
	if o.User == "" {
		o.User = "root"
	}
	if o.Arch == "" {
		o.Arch = "amd64"
	}
	if _, err := unameMachine(o.Arch); err != nil {
		return o, err
	}
	for _, ov := range o.Overrides {
		if _, err := path.Match(ov.Nodes, ""); err != nil {
			return o, fmt.Errorf("fleet: override pattern %q: %w", ov.Nodes, err)
		}
	}
	return o, nil
}

// nodeName is the name of the i-th node.
func (o Options) nodeName(i int) string {
	width := len(fmt.Sprint(o.Nodes - 1))
	if width < 3 {
		width = 3
	}
	return fmt.Sprintf("%s%0*d", o.Prefix, width, i)
}

// spec is the i-th node's spec: defaults, then matching overrides.
func (o Options) spec(i int, name string) NodeSpec {
	s := o.Defaults
	for _, ov := range o.Overrides {
		if ov.Set != nil && ov.selects(i, name) {
			ov.Set(&s)
		}
	}
	if s.Arch == "" {
		s.Arch = o.Arch
	}
	return s
}
