package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/kmemfix/kmemfix/node"
)

var n1 = NodeRef{Name: "n1", Address: "10.0.0.1", Port: 22, User: "root"}

func newEnv(t *testing.T, sh *fakeShell) (*testsuite.TestActivityEnvironment, *Activities) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &Activities{Shell: sh, Classifier: classifier{}}
	env.RegisterActivity(a)
	return env, a
}

func appErr(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae, "not an application error: %v", err)
	return ae
}

func TestInspectDecodesAndPassesFlags(t *testing.T) {
	sh := &fakeShell{answer: func(cmd []string) (node.Response, int) {
		return ok("inspect", node.InspectResult{Verdict: node.VerdictAffected, BootID: "b1", Headroom: node.Headroom{Known: true, Required: 10, Available: 99}})
	}}
	env, a := newEnv(t, sh)
	v, err := env.ExecuteActivity(a.Inspect, &InspectInput{Node: n1,
		Flags:       Flags{CgroupRoot: "/sys/fs/cgroup/memory", Kubepods: "kubepods", Mirror: "kubepods2", JournalDir: "/var/lib/kmemfix", BootID: "b0"},
		KubeletUnit: "kubelet", KubeletBinary: "/usr/bin/kubelet", Margin: 500})
	require.NoError(t, err)
	var res InspectResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, node.VerdictAffected, res.Inspect.Verdict)
	require.Equal(t, 99, res.Inspect.Headroom.Available)
	require.Equal(t, []string{"--cgroup-root", "/sys/fs/cgroup/memory", "--kubepods", "kubepods", "--mirror", "kubepods2",
		"--journal-dir", "/var/lib/kmemfix", "--kubelet-unit", "kubelet", "--boot-id", "b0", "--progress",
		"inspect", "--kubelet-binary", "/usr/bin/kubelet", "--margin", "500"}, sh.runs[0])
}

func TestHelperErrorCodes(t *testing.T) {
	cases := []struct {
		code      string
		exit      int
		retryable bool // the helper's own flag
		typ       string
		wantRetry bool
	}{
		{node.CodeRebooted, node.ExitRefused, false, ErrRebooted, false},
		{node.CodePastCommit, node.ExitRefused, false, ErrPastCommit, false},
		{node.CodeLocked, node.ExitLocked, true, ErrLocked, true},
		{node.CodeRefused, node.ExitRefused, false, ErrRefused, false},
		{node.CodeUsage, node.ExitUsage, false, ErrBadInput, false},
		{node.CodeTreeChanged, node.ExitFailed, true, ErrTreeChanged, false},
		{node.CodeNotConverged, node.ExitFailed, true, ErrNotConverged, true},
		{node.CodeKernel, node.ExitFailed, true, ErrKernel, true},
		{node.CodeKernel, node.ExitFailed, false, ErrKernel, false},
		{node.CodeService, node.ExitFailed, true, ErrService, true},
		{node.CodeChecksum, node.ExitFailed, true, ErrChecksum, false},
		{node.CodeNeedsHelp, node.ExitNeedsHelp, false, ErrNeedsAttention, false},
		{node.CodeInterrupted, node.ExitInterrupted, false, ErrInterrupted, true},
		{"something-new", node.ExitFailed, true, ErrHelperFailed, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%v", tc.code, tc.retryable), func(t *testing.T) {
			sh := &fakeShell{answer: func(cmd []string) (node.Response, int) {
				return failed(cmd[0], tc.exit, tc.code, "what happened", tc.retryable, nil)
			}}
			env, a := newEnv(t, sh)
			_, err := env.ExecuteActivity(a.Move, &NodeStepInput{Node: n1})
			ae := appErr(t, err)
			require.Equal(t, tc.typ, ae.Type())
			require.Equal(t, !tc.wantRetry, ae.NonRetryable())
			require.Contains(t, ae.Message(), "kmemfix-node move: what happened ("+tc.code+")")
		})
	}
}

func TestHelperBadOutputAndProtocol(t *testing.T) {
	sh := &fakeShell{raw: []byte("Segmentation fault")}
	env, a := newEnv(t, sh)
	_, err := env.ExecuteActivity(a.Snapshot, &NodeStepInput{Node: n1})
	require.Equal(t, ErrBadOutput, appErr(t, err).Type())

	sh = &fakeShell{answer: func([]string) (node.Response, int) {
		return node.Response{OK: true, Protocol: node.ProtocolVersion + 1}, 0
	}}
	env, a = newEnv(t, sh)
	_, err = env.ExecuteActivity(a.Snapshot, &NodeStepInput{Node: n1})
	ae := appErr(t, err)
	require.Equal(t, ErrProtocol, ae.Type())
	require.True(t, ae.NonRetryable())
}

func TestTransportClassification(t *testing.T) {
	cases := []struct {
		err       error
		cls       Classifier
		typ       string
		retryable bool
	}{
		{errors.New("ssh: handshake failed: ssh: unable to authenticate"), classifier{}, ErrAuth, false},
		{errors.New("ssh: handshake failed: knownhosts: key mismatch: host key"), classifier{}, ErrHostKey, false},
		{errNoRoute, classifier{}, ErrUnreachable, true},
		{errNoRoute, nil, ErrTransport, true},
		{context.DeadlineExceeded, nil, ErrTimeout, true},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			sh := &fakeShell{err: tc.err}
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			a := &Activities{Shell: sh, Classifier: tc.cls}
			env.RegisterActivity(a)
			_, err := env.ExecuteActivity(a.EnsureHelper, &EnsureHelperInput{Node: n1})
			ae := appErr(t, err)
			require.Equal(t, tc.typ, ae.Type())
			require.Equal(t, !tc.retryable, ae.NonRetryable())
			_, err = env.ExecuteActivity(a.Commit, &NodeStepInput{Node: n1})
			require.Equal(t, tc.typ, appErr(t, err).Type())
		})
	}
}

func TestVerifyFailureCarriesProblems(t *testing.T) {
	sh := &fakeShell{answer: func(cmd []string) (node.Response, int) {
		return failed("verify", node.ExitFailed, node.CodeVerify, "2 differences", false,
			node.VerifyResult{Dirs: 4, Problems: []string{"pid 7 moved", "kubepods/x accounted"}})
	}}
	env, a := newEnv(t, sh)
	_, err := env.ExecuteActivity(a.Verify, &NodeStepInput{Node: n1})
	ae := appErr(t, err)
	require.Equal(t, ErrVerifyFailed, ae.Type())
	require.True(t, ae.NonRetryable())
	var ne node.Error
	var vr node.VerifyResult
	require.NoError(t, ae.Details(&ne, &vr))
	require.Equal(t, node.CodeVerify, ne.Code)
	require.Equal(t, []string{"pid 7 moved", "kubepods/x accounted"}, vr.Problems)
}

func TestStopKubeletStopsThenSwaps(t *testing.T) {
	state := "inactive"
	sh := &fakeShell{answer: func(cmd []string) (node.Response, int) {
		if cmd[0] == "service" {
			return ok("service", node.ServiceResult{Unit: "kubelet", State: state})
		}
		return ok("kubelet", node.KubeletSwapResult{Binary: "/usr/bin/kubelet", Changed: true, Backup: "/usr/bin/kubelet.kmemfix-orig"})
	}}
	env, a := newEnv(t, sh)
	in := &StopKubeletInput{Node: n1, Unit: "kubelet", Binary: "/usr/bin/kubelet", NewBinary: "/var/lib/kmemfix/kubelet.nokmem", SHA256: "ab", Timeout: 60e9}
	v, err := env.ExecuteActivity(a.StopKubelet, in)
	require.NoError(t, err)
	var res StopKubeletResult
	require.NoError(t, v.Get(&res))
	require.True(t, res.Swap.Changed)
	require.Equal(t, []string{"service", "stop", "kubelet", "--timeout", "1m0s"}, command(sh.runs[0]))
	require.Equal(t, []string{"kubelet", "swap", "--binary", "/usr/bin/kubelet", "--new", "/var/lib/kmemfix/kubelet.nokmem", "--sha256", "ab"}, command(sh.runs[1]))

	state = "active"
	sh.runs = nil
	_, err = env.ExecuteActivity(a.StopKubelet, in)
	require.Equal(t, ErrService, appErr(t, err).Type())
	require.Len(t, sh.runs, 1, "no swap while kubelet runs")
}

func TestStartAndRestoreKubelet(t *testing.T) {
	healthy := false
	sh := &fakeShell{answer: func(cmd []string) (node.Response, int) {
		if cmd[0] == "service" {
			return ok("service", node.ServiceResult{Unit: "kubelet", State: "active", Healthy: healthy})
		}
		return ok("kubelet", node.KubeletSwapResult{Binary: "/usr/bin/kubelet", Changed: true})
	}}
	env, a := newEnv(t, sh)
	start := &StartKubeletInput{Node: n1, Unit: "kubelet", HealthzURL: "http://127.0.0.1:10248/healthz"}
	_, err := env.ExecuteActivity(a.StartKubelet, start)
	ae := appErr(t, err)
	require.Equal(t, ErrUnhealthy, ae.Type())
	require.False(t, ae.NonRetryable())
	require.Equal(t, []string{"service", "start", "kubelet", "--healthz", "http://127.0.0.1:10248/healthz"}, command(sh.runs[0]))

	healthy = true
	sh.runs = nil
	_, err = env.ExecuteActivity(a.RestoreKubelet, &RestoreKubeletInput{Node: n1, Unit: "kubelet", Binary: "/usr/bin/kubelet"})
	require.NoError(t, err)
	var cmds []string
	for _, r := range sh.runs {
		cmds = append(cmds, strings.Join(command(r)[:2], " "))
	}
	require.Equal(t, []string{"kubelet restore", "service start", "service status"}, cmds)
}

func TestRestartCadvisor(t *testing.T) {
	exit := 0
	sh := &fakeShell{answer: func(cmd []string) (node.Response, int) {
		return ok("run-commands", node.CommandsResult{Ran: []node.CommandOutcome{{Argv: []string{"systemctl", "restart", "cadvisor"}, ExitCode: exit, Stderr: "unit not found"}}})
	}}
	env, a := newEnv(t, sh)
	_, err := env.ExecuteActivity(a.RestartCadvisor, &RestartCadvisorInput{Node: n1})
	require.NoError(t, err)
	require.Empty(t, sh.runs, "no command configured: nothing runs")

	in := &RestartCadvisorInput{Node: n1, Commands: [][]string{{"systemctl", "restart", "cadvisor"}}}
	_, err = env.ExecuteActivity(a.RestartCadvisor, in)
	require.NoError(t, err)
	require.Equal(t, []string{"run-commands", "--argv", `["systemctl","restart","cadvisor"]`}, command(sh.runs[0]))

	exit = 5
	_, err = env.ExecuteActivity(a.RestartCadvisor, in)
	ae := appErr(t, err)
	require.Equal(t, ErrCommandFailed, ae.Type())
	require.Contains(t, ae.Message(), "systemctl restart cadvisor exited 5: unit not found")
}

func TestStageKubelet(t *testing.T) {
	sh := &fakeShell{}
	env, a := newEnv(t, sh)
	sha := strings.Repeat("a", 64)
	_, err := env.ExecuteActivity(a.StageKubelet, &StageKubeletInput{Node: n1, LocalPath: "/srv/kubelet", RemotePath: "/var/lib/kmemfix/kubelet.nokmem", SHA256: sha})
	require.NoError(t, err)
	require.Equal(t, []string{"/srv/kubelet->/var/lib/kmemfix/kubelet.nokmem@" + sha}, sh.files)
	_, err = env.ExecuteActivity(a.StageKubelet, &StageKubeletInput{Node: n1, LocalPath: "/srv/kubelet", RemotePath: "/x", SHA256: "short"})
	ae := appErr(t, err)
	require.Equal(t, ErrBadInput, ae.Type())
	require.True(t, ae.NonRetryable())
}

func TestProgressHeartbeats(t *testing.T) {
	sh := &fakeShell{
		progress: []node.Progress{{Step: "move", Done: 10, Total: 40}, {Step: "move", Done: 40, Total: 40}},
		answer:   func([]string) (node.Response, int) { return ok("move", node.TreeResult{Moved: 300}) },
	}
	env, a := newEnv(t, sh)
	var beats []node.Progress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p node.Progress
		if d.Get(&p) == nil {
			beats = append(beats, p)
		}
	})
	v, err := env.ExecuteActivity(a.Move, &NodeStepInput{Node: n1})
	require.NoError(t, err)
	var res TreeStepResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, 300, res.Tree.Moved)
	require.NotEmpty(t, beats)
	require.Equal(t, node.Progress{Step: "move", Done: 10, Total: 40}, beats[0], "progress lines become heartbeats (the SDK throttles the rest)")
}

func TestCancelledContextStopsTheHelper(t *testing.T) {
	sh := &fakeShell{answer: func([]string) (node.Response, int) { return ok("move", nil) }}
	a := &Activities{Shell: sh}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.Move(ctx, &NodeStepInput{Node: n1})
	require.ErrorIs(t, err, context.Canceled)
}

func TestHealthGateHTTP(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, "apiserver says hi")
	}))
	defer srv.Close()
	env, a := newEnv(t, &fakeShell{})
	in := &HealthGateInput{Gate: HealthGate{HTTP: &HTTPProbe{URL: srv.URL + "/readyz"}}}
	res := gate(t, env, a, in)
	require.True(t, res.Passed)
	status = http.StatusServiceUnavailable
	res = gate(t, env, a, in)
	require.False(t, res.Passed)
	require.Contains(t, res.Reason, "answered 503, want 200: apiserver says hi")
}

func TestHealthGatePrometheus(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"vector","result":[]}}`
	var path, query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path // checked below: require must not run in the handler's goroutine
		query = r.URL.Query().Get("query")
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	env, a := newEnv(t, &fakeShell{})
	q := `ALERTS{alertstate="firing",severity="critical"}`
	in := &HealthGateInput{Gate: HealthGate{Prometheus: &PrometheusProbe{URL: srv.URL, Query: q}}}
	require.True(t, gate(t, env, a, in).Passed)
	require.Equal(t, "/api/v1/query", path)
	require.Equal(t, q, query)
	body = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"alertname":"KubeNodeNotReady"},"value":[1,"1"]}]}}`
	res := gate(t, env, a, in)
	require.False(t, res.Passed)
	require.Contains(t, res.Reason, "1 alert(s) firing")
	require.Contains(t, res.Reason, "KubeNodeNotReady")
	body = `{"status":"error","error":"parse error"}`
	_, err := env.ExecuteActivity(a.CheckHealthGate, in)
	require.Contains(t, appErr(t, err).Message(), "parse error")
}

func TestHealthGateCommandOnSampledNodes(t *testing.T) {
	sh := &fakeShell{answer: func(cmd []string) (node.Response, int) {
		return ok("run-commands", node.CommandsResult{Ran: []node.CommandOutcome{{Argv: []string{"true"}, ExitCode: 0}}})
	}}
	env, a := newEnv(t, sh)
	in := &HealthGateInput{Gate: HealthGate{Command: &CommandProbe{Argv: []string{"true"}}}, Nodes: []NodeRef{n1, {Name: "n2"}}}
	res := gate(t, env, a, in)
	require.True(t, res.Passed)
	require.Len(t, sh.runs, 2)
	sh.answer = func(cmd []string) (node.Response, int) {
		return ok("run-commands", node.CommandsResult{Ran: []node.CommandOutcome{{Argv: []string{"true"}, ExitCode: 1}}})
	}
	res = gate(t, env, a, in)
	require.False(t, res.Passed)
	require.Contains(t, res.Reason, "failed on 2 of 2 sampled nodes")
}

func TestHealthGateValidate(t *testing.T) {
	require.ErrorContains(t, HealthGate{}.Validate(), "exactly one")
	require.ErrorContains(t, HealthGate{HTTP: &HTTPProbe{URL: "x"}, Command: &CommandProbe{Argv: []string{"a"}}}.Validate(), "exactly one")
	require.ErrorContains(t, HealthGate{Command: &CommandProbe{}}.Validate(), "argv is empty")
	require.ErrorContains(t, HealthGate{Prometheus: &PrometheusProbe{URL: "http://p"}}.Validate(), "give a base url and a query")
}

func gate(t *testing.T, env *testsuite.TestActivityEnvironment, a *Activities, in *HealthGateInput) HealthGateResult {
	t.Helper()
	v, err := env.ExecuteActivity(a.CheckHealthGate, in)
	require.NoError(t, err)
	var res HealthGateResult
	require.NoError(t, v.Get(&res))
	return res
}
