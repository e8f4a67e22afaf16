package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HealthGate is the check a rollout runs between waves. Exactly one of its
// fields is set.
type HealthGate struct {
	// HTTP passes when URL answers ExpectStatus (default 200).
	HTTP *HTTPProbe `json:"http,omitempty"`
	// Command passes when Argv exits 0 on every sampled node (run by the
	// helper's run-commands, no shell).
	Command *CommandProbe `json:"command,omitempty"`
	// Prometheus passes when Query returns no series (an alert query:
	// a firing alert is a series).
	Prometheus *PrometheusProbe `json:"prometheus,omitempty"`
}

// HTTPProbe is an HTTP GET.
type HTTPProbe struct {
	URL          string `json:"url"`
	ExpectStatus int    `json:"expectStatus,omitempty"`
}

// CommandProbe is a command run on a sample of the wave's nodes.
type CommandProbe struct {
	Argv   []string `json:"argv"`
	Sample int      `json:"sample,omitempty"` // default 3
}

// PrometheusProbe is an instant query on Prometheus's HTTP API, like
// ALERTS{alertstate="firing",severity="critical"}.
type PrometheusProbe struct {
	URL   string `json:"url"` // base URL: http://prometheus:9090
	Query string `json:"query"`
}

// Validate reports a gate that cannot run.
func (g HealthGate) Validate() error {
	n := 0
	var errs []error
	if g.HTTP != nil {
		n++
		if !isHTTPURL(g.HTTP.URL) {
			errs = append(errs, fmt.Errorf("health gate http url %q: give an http:// or https:// URL", g.HTTP.URL))
		}
	}
	if g.Command != nil {
		n++
		if len(g.Command.Argv) == 0 {
			errs = append(errs, errors.New("health gate command: argv is empty"))
		}
	}
	if g.Prometheus != nil {
		n++
		if !isHTTPURL(g.Prometheus.URL) || g.Prometheus.Query == "" {
			errs = append(errs, fmt.Errorf("health gate prometheus: give a base url and a query (url %q)", g.Prometheus.URL))
		}
	}
	if n != 1 {
		errs = append(errs, fmt.Errorf("health gate: set exactly one of http, command, prometheus (%d set)", n))
	}
	return errors.Join(errs...)
}

// isHTTPURL is a plain prefix check: Validate runs inside workflows too,
// where net/url's parser is off limits (workflowcheck).
func isHTTPURL(s string) bool {
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(s, "https://")
	}
	return ok && rest != "" && !strings.ContainsAny(rest, " \t\n")
}

// HealthGateInput is the gate and, for a command gate, the nodes to run
// it on (the workflow samples them from the wave).
type HealthGateInput struct {
	Gate  HealthGate `json:"gate"`
	Nodes []NodeRef  `json:"nodes,omitempty"`
	Flags Flags      `json:"flags"`
}

// HealthGateResult says whether the gate passed, and why not. A failing
// gate is a result, not an error: errors are for gates that could not be
// evaluated (and are retried).
type HealthGateResult struct {
	Passed bool   `json:"passed"`
	Reason string `json:"reason"`
}

// healthChecker is one kind of gate.
type healthChecker interface {
	check(ctx context.Context) (HealthGateResult, error)
}

// CheckHealthGate runs the gate.
func (a *Activities) CheckHealthGate(ctx context.Context, in *HealthGateInput) (*HealthGateResult, error) {
	c, err := a.healthChecker(in)
	if err != nil {
		return nil, appError(err.Error(), ErrBadInput, false, nil)
	}
	res, err := c.check(ctx)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func (a *Activities) healthChecker(in *HealthGateInput) (healthChecker, error) {
	if err := in.Gate.Validate(); err != nil {
		return nil, err
	}
	client := a.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	switch {
	case in.Gate.HTTP != nil:
		return httpGate{client: client, probe: *in.Gate.HTTP}, nil
	case in.Gate.Prometheus != nil:
		return promGate{client: client, probe: *in.Gate.Prometheus}, nil
	}
	if len(in.Nodes) == 0 {
		return nil, errors.New("health gate command: no node to run it on")
	}
	return commandGate{a: a, probe: *in.Gate.Command, nodes: in.Nodes, flags: in.Flags}, nil
}

type httpGate struct {
	client *http.Client
	probe  HTTPProbe
}

func (g httpGate) check(ctx context.Context) (HealthGateResult, error) {
	want := g.probe.ExpectStatus
	if want == 0 {
		want = http.StatusOK
	}
	body, status, err := get(ctx, g.client, g.probe.URL)
	if err != nil {
		return HealthGateResult{}, appError(fmt.Sprintf("health gate GET %s: %v", g.probe.URL, err), ErrUnreachable, true, err)
	}
	if status != want {
		return HealthGateResult{Reason: fmt.Sprintf("GET %s answered %d, want %d: %s", g.probe.URL, status, want, snippet(body))}, nil
	}
	return HealthGateResult{Passed: true, Reason: fmt.Sprintf("GET %s answered %d", g.probe.URL, status)}, nil
}

type promGate struct {
	client *http.Client
	probe  PrometheusProbe
}

// promResponse is the part of /api/v1/query's answer the gate reads.
type promResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	} `json:"data"`
}

func (g promGate) check(ctx context.Context) (HealthGateResult, error) {
	u := strings.TrimRight(g.probe.URL, "/") + "/api/v1/query?query=" + url.QueryEscape(g.probe.Query)
	body, status, err := get(ctx, g.client, u)
	if err != nil {
		return HealthGateResult{}, appError(fmt.Sprintf("prometheus query at %s: %v", g.probe.URL, err), ErrUnreachable, true, err)
	}
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil || status != http.StatusOK || r.Status != "success" {
		return HealthGateResult{}, appError(fmt.Sprintf("prometheus query %q answered %d: %s %s", g.probe.Query, status, r.Error, snippet(body)),
			ErrHelperFailed, status >= 500 || status == 0, nil)
	}
	if len(r.Data.Result) == 0 {
		return HealthGateResult{Passed: true, Reason: fmt.Sprintf("no series for %s", g.probe.Query)}, nil
	}
	var names []string
	for _, s := range r.Data.Result {
		n := s.Metric["alertname"]
		if n == "" {
			n = fmt.Sprint(s.Metric)
		}
		names = append(names, n)
	}
	return HealthGateResult{Reason: fmt.Sprintf("%d alert(s) firing for %s: %s", len(names), g.probe.Query, strings.Join(names, ", "))}, nil
}

type commandGate struct {
	a     *Activities
	probe CommandProbe
	nodes []NodeRef
	flags Flags
}

func (g commandGate) check(ctx context.Context) (HealthGateResult, error) {
	var failed []string
	for _, n := range g.nodes {
		_, err := g.a.runCommands(ctx, n, g.flags, [][]string{g.probe.Argv})
		if err == nil {
			continue
		}
		if ErrorType(err) != ErrCommandFailed {
			return HealthGateResult{}, err
		}
		failed = append(failed, err.Error())
	}
	if len(failed) > 0 {
		return HealthGateResult{Reason: fmt.Sprintf("%s failed on %d of %d sampled nodes: %s",
			strings.Join(g.probe.Argv, " "), len(failed), len(g.nodes), strings.Join(failed, "; "))}, nil
	}
	return HealthGateResult{Passed: true, Reason: fmt.Sprintf("%s passed on %d sampled nodes", strings.Join(g.probe.Argv, " "), len(g.nodes))}, nil
}

func get(ctx context.Context, c *http.Client, u string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return body, resp.StatusCode, err
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
