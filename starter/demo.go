package starter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/sim/fleet"
	"github.com/kmemfix/kmemfix/sim/simnode"
	"github.com/kmemfix/kmemfix/worker"
	"github.com/kmemfix/kmemfix/workflows"
)

// demoFlags shape the demo.
type demoFlags struct {
	nodes       int
	waves       string
	concurrency int
	soak        time.Duration
	keep, noUI  bool
	dir         string
}

func newDemoCommand(a *app) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system on a simulated fleet: server + UI, fleet, worker, survey, rollout, summary",
		Long: `demo starts, in this process, the Temporal dev server and its Web UI, a simulated
fleet (most nodes leaking kmem cgroups on kubelet 1.12.3, a fifth on a fixed
kubelet, one unreachable, one whose css ids are exhausted and needs a reboot)
and a worker that reaches the nodes over SSH. It surveys the fleet, rolls out
in waves while streaming progress, and ends with a summary: outcomes against
what each node should get, kubelet-down p50/p99 and the duration. The exit
status is 0 only when every node got its expected outcome.

The server listens on temporal.address and the UI on temporal.uiAddress (port
0 picks free ports). --keep leaves them up to browse until Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config(cmd)
			if err != nil {
				return err
			}
			if f.nodes < 4 {
				return usageError(errors.New("--nodes: give at least 4 (the demo needs an unreachable, an exhausted and a healthy node)"))
			}
			return runDemo(cmd.Context(), *cfg, f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.nodes, "nodes", 50, "simulated nodes")
	fl.StringVar(&f.waves, "waves", "1,10%,50%,100%", "cumulative waves")
	fl.IntVar(&f.concurrency, "concurrency", 10, "nodes at once within a wave")
	fl.DurationVar(&f.soak, "soak", 3*time.Second, "wait after each wave")
	fl.BoolVar(&f.keep, "keep", false, "leave the server and UI up after the summary, until Ctrl-C")
	fl.BoolVar(&f.noUI, "no-ui", false, "do not serve the Web UI")
	fl.StringVar(&f.dir, "dir", "", "folder for the fleet's files and the worker log (default: a temporary folder, removed at the end)")
	return cmd
}

func runDemo(ctx context.Context, cfg config.Config, f demoFlags, out io.Writer) error {
	start := time.Now()
	dir := f.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "kmemfix-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	srv, err := startDemoServer(ctx, &cfg, f.noUI)
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop() }() //nolint:contextcheck // the dev server stops on its own clock
	fmt.Fprintf(out, "Temporal dev server  %s (UI %s)\n", srv.FrontendAddress(), orWord(srv.UIURL(), "off"))

	fl, inventoryPath, err := startDemoFleet(ctx, &cfg, f.nodes, dir)
	if err != nil {
		return err
	}
	defer fl.Close()
	fmt.Fprintf(out, "Simulated fleet      %d nodes on 127.0.0.1 (inventory %s)\n", f.nodes, inventoryPath)

	logPath := filepath.Join(dir, "worker.log")
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopWorker, err := startDemoWorker(ctx, &cfg, logPath, cancel)
	if err != nil {
		return err
	}
	defer stopWorker()
	fmt.Fprintf(out, "Worker               in-process, task queue %s (log %s)\n\n", cfg.Temporal.TaskQueue, logPath)

	c, err := worker.Dial(ctx, &cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer c.Close()
	final, err := demoRollout(ctx, c, &cfg, f, inventoryPath, out)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if err != nil {
		return err
	}
	verdict := writeDemoSummary(out, final, expectedOutcomes(fl.Nodes()), time.Since(start))
	if f.keep {
		fmt.Fprintf(out, "\nThe server and UI stay up (--keep): %s - Ctrl-C to stop.\n", orWord(srv.UIURL(), srv.FrontendAddress()))
		<-ctx.Done()
	}
	return verdict
}

func startDemoServer(ctx context.Context, cfg *config.Config, noUI bool) (*devserver.Server, error) {
	opts, err := devOptions(cfg, "", noUI)
	if err != nil {
		return nil, usageError(err)
	}
	srv, err := devserver.Start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("start the dev server: %w (another `kmemfix dev` on the same ports? pass --temporal-address 127.0.0.1:0 --temporal-ui-address http://127.0.0.1:0)", err)
	}
	cfg.Temporal.Address = srv.FrontendAddress()
	cfg.Temporal.UIAddress = srv.UIURL()
	return srv, nil
}

// startDemoFleet starts the simulated fleet, writes its files into dir and
// points the configuration at them (keys, known_hosts, helper build,
// replacement kubelet).
func startDemoFleet(ctx context.Context, cfg *config.Config, nodes int, dir string) (*fleet.Fleet, string, error) {
	build, err := demoHelperBuild(dir)
	if err != nil {
		return nil, "", err
	}
	kubelet := filepath.Join(dir, "kubelet-1.12.3-nokmem")
	kubeletSum, err := writeStandIn(kubelet, string(simnode.KubeletBinary("v1.12.3", false))) // a build the simulated nodes run without kmem
	if err != nil {
		return nil, "", err
	}
	name := func(i int) string { return fmt.Sprintf("node-%0*d", max(3, len(fmt.Sprint(nodes-1))), i) }
	var overrides []fleet.Override
	for _, s := range []string{"20%=kubelet=1.14.10", name(nodes/2) + "=exhausted,kubelet=1.12.3", name(nodes-1) + "=unreachable,kubelet=1.12.3"} {
		ov, err := fleet.ParseOverride(s)
		if err != nil {
			return nil, "", err
		}
		overrides = append(overrides, ov)
	}
	fl, err := fleet.Start(ctx, fleet.Options{
		Nodes: nodes, Helper: helper.Main, HelperSHA256s: []string{build},
		Defaults:  fleet.NodeSpec{Containers: 12, KubeletVersion: "1.12.3", LeakedIDs: 2000},
		Overrides: overrides,
	})
	if err != nil {
		return nil, "", err
	}
	files, err := fl.WriteFiles(dir, "inventory.yaml")
	if err != nil {
		_ = fl.Close()
		return nil, "", err
	}
	cfg.SSH.KeyFiles, cfg.SSH.Agent, cfg.SSH.KnownHosts, cfg.SSH.InsecureIgnoreHostKey = []string{files.ClientKey}, false, []string{files.KnownHosts}, false
	cfg.SSH.KeyPassphrase, cfg.SSH.KeyPassphraseFile, cfg.SSH.JumpHost, cfg.SSH.Sudo = "", "", "", false
	cfg.Node.ReplacementKubelet = config.Artifact{Path: kubelet, SHA256: kubeletSum}
	cfg.Worker.HelperBinDir = dir
	cfg.Worker.MetricsAddress = ""
	return fl, files.Inventory, nil
}

// demoHelperBuild places the helper build the worker installs on the
// simulated nodes (which run node/helper in-process for its sha256): the
// real build beside this binary when there is one, else a stand-in.
func demoHelperBuild(dir string) (string, error) {
	dst := filepath.Join(dir, "kmemfix-node-amd64")
	for _, p := range helperBuilds() {
		if strings.HasSuffix(p, "-amd64") {
			if data, err := os.ReadFile(p); err == nil {
				if err := os.WriteFile(dst, data, 0o755); err != nil { //nolint:gosec // an executable, as on the nodes
					return "", err
				}
				sum := sha256.Sum256(data)
				return hex.EncodeToString(sum[:]), nil
			}
		}
	}
	return writeStandIn(dst, "stand-in kmemfix-node build: the simulated nodes run node/helper in-process\n")
}

func writeStandIn(path, content string) (string, error) {
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil { //nolint:gosec // stand-ins for executables
		return "", err
	}
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:]), nil
}

// startDemoWorker runs the production worker wiring in this process, its
// logs in logPath. If the worker fails, fail is called with why. stop
// cancels the worker and waits for it to finish.
func startDemoWorker(ctx context.Context, cfg *config.Config, logPath string, fail func(error)) (stop func(), err error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	wcfg := *cfg
	wcfg.Worker.StopTimeout = 5 * time.Second
	go func() {
		defer close(done)
		if err := worker.Run(wctx, &wcfg, wcfg.Telemetry.NewLogger(logFile)); err != nil {
			fail(fmt.Errorf("the worker stopped: %w (log %s)", err, logPath))
		}
	}()
	return func() {
		cancel()
		<-done
		_ = logFile.Close()
	}, nil
}

// demoRollout surveys the fleet, then rolls out in waves while streaming
// progress, and returns the rollout's final progress.
func demoRollout(ctx context.Context, c client.Client, cfg *config.Config, f demoFlags, inventoryPath string, out io.Writer) (*workflows.Progress, error) {
	inv, err := loadInventory(inventoryPath)
	if err != nil {
		return nil, err
	}
	survey, err := runSurvey(ctx, c, cfg, inventoryNodes(inv.Resolved()), f.concurrency, out)
	if err != nil {
		return nil, err
	}
	if err := writeSurveyTable(out, survey.Fleet); err != nil {
		return nil, err
	}
	fmt.Fprintln(out)
	spec := rolloutSpec{Name: "demo-" + newName(), Inventory: inventoryPath, Rollout: cfg.Rollout}
	spec.Waves = strings.Split(f.waves, ",")
	spec.Concurrency, spec.Soak, spec.FailureBudget, spec.HealthGate = f.concurrency, f.soak, "10%", config.HealthGate{Type: config.GateNone}
	spec.MaintenanceWindow = config.MaintenanceWindow{}
	sizes, err := config.ResolveWaves(spec.Waves, len(inv.Nodes))
	if err != nil {
		return nil, usageError(fmt.Errorf("--waves: %w", err))
	}
	id, runID, err := startRollout(ctx, c, cfg, &plan{Spec: spec, Nodes: inv.Resolved(), WaveSizes: sizes}, out)
	if err != nil {
		return nil, err
	}
	paused := func(p *workflows.Progress) bool { return p.State == workflows.StatePaused }
	w := &watcher{id: id, src: &temporalProgress{c: c, id: id, runID: runID}, out: out, interval: time.Second, live: isTerminal(out), until: paused}
	p, err := w.run(ctx)
	if err != nil || !paused(p) {
		return p, err
	}
	// Nothing should fail in the demo: a pause means something did. Stop
	// the rollout rather than wait for an operator.
	fmt.Fprintf(out, "the rollout paused (%s): aborting the demo\n", p.PauseReason)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateAbort,
		Args: []any{workflows.AbortRequest{Reason: "demo: unexpected failures"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		return p, fmt.Errorf("abort %s: %w", id, err)
	}
	w.until = nil
	return w.run(ctx)
}

// expectedOutcomes is what each simulated node should end with.
func expectedOutcomes(nodes []fleet.NodeInfo) map[workflows.Outcome]int {
	want := map[workflows.Outcome]int{}
	for _, n := range nodes {
		switch {
		case n.Spec.Faults.Unreachable:
			want[workflows.OutcomeUnreachable]++
		case n.Spec.Exhausted:
			want[workflows.OutcomeNeedsReboot]++
		case strings.HasPrefix(n.Spec.KubeletVersion, "1.14"):
			want[workflows.OutcomeSkippedNotAffected]++
		default:
			want[workflows.OutcomeRemediated]++
		}
	}
	return want
}

// writeDemoSummary prints outcomes against expectations, kubelet-down
// times and the duration; it returns an error when any count differs.
func writeDemoSummary(w io.Writer, p *workflows.Progress, want map[workflows.Outcome]int, took time.Duration) error {
	fmt.Fprintf(w, "\nSummary of %s (%s)\n", p.RolloutID, p.State)
	all := map[workflows.Outcome]int{}
	for o, n := range want {
		all[o] += n
	}
	for o, n := range p.Counts {
		all[o] += n
	}
	t := newTable(w, "OUTCOME", "NODES", "EXPECTED", "")
	var wrong []string
	for _, o := range sortedOutcomes(all) {
		mark := "ok"
		if p.Counts[o] != want[o] {
			mark = "UNEXPECTED"
			wrong = append(wrong, fmt.Sprintf("%s %d (expected %d)", o, p.Counts[o], want[o]))
		}
		_ = t.Append(string(o), fmt.Sprint(p.Counts[o]), fmt.Sprint(want[o]), mark)
	}
	_ = t.Render()
	d := p.KubeletDown
	fmt.Fprintf(w, "kubelet down: p50 %s, p99 %s, max %s over %d node(s)\n", short(d.P50), short(d.P99), short(d.Max), d.Count)
	fmt.Fprintf(w, "duration: %s\n", took.Round(100*time.Millisecond))
	if p.State != workflows.StateDone || len(wrong) > 0 {
		return fmt.Errorf("demo: the rollout ended %s with unexpected outcomes: %s", p.State, orWord(strings.Join(wrong, ", "), "none"))
	}
	fmt.Fprintln(w, "demo: every node got its expected outcome")
	return nil
}
