package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmemfix/kmemfix/workflows"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.html")

const el7, k112 = "3.10.0-1160.el7.x86_64", "v1.12.10"

// fixture is a small fleet with every verdict and headroom in several bins.
func fixture() Survey {
	n := func(name, verdict string, known bool, free, req, leaked int, reason string) Node {
		return Node{Name: name, Verdict: verdict, HeadroomKnown: known, FreeIDs: free, Required: req, LeakedIDs: leaked,
			Kernel: el7, Kubelet: k112, Reasons: []string{reason}}
	}
	nodes := []Node{
		n("node-01", VerdictAffected, true, 52000, 2100, 9000, "310 of 312 cgroups are kmem-accounted"),
		n("node-02", VerdictAffected, true, 40100, 1800, 20000, "290 of 300 cgroups are kmem-accounted"),
		n("node-03", VerdictAffected, true, 9000, 2400, 50000, "kmem-accounted; 9000 free"),
		n("node-04", VerdictNeedsReboot, true, 700, 2300, 64000, "only 700 css ids are free and the procedure needs 2300"),
		n("node-05", VerdictNeedsReboot, true, 1500, 2600, 63000, "only 1500 css ids are free and the procedure needs 2600"),
		n("node-06", VerdictAffected, false, -1, 2000, -1, "headroom is unknown, so policy decides"),
		n("node-07", VerdictNotAffected, true, 65000, 900, 0, "no cgroup under kubepods has kmem accounting"),
		{Name: "node-08", Verdict: VerdictNotAffected, HeadroomKnown: true, FreeIDs: 64000, Required: 700,
			Kernel: "5.4.0-150-generic", Kubelet: "v1.24.17", Reasons: []string{"kernel 5.4 is not 3.10"}},
		{Name: "node-09", Verdict: VerdictUnsupported, Kernel: el7, Kubelet: "v1.13.12", LeakedIDs: -1,
			Reasons: []string{"kubelet uses the systemd cgroup driver <kubepods.slice> & more"}},
		{Name: "node-10", Verdict: VerdictUnreachable, LeakedIDs: -1, Error: "dial tcp 10.0.0.10:22: connect: no route to host"},
	}
	return Survey{RolloutID: "kmemfix-rollout-survey-demo", Generated: time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC), Nodes: nodes}
}

func render(t *testing.T, s Survey) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestGolden(t *testing.T) {
	for name, s := range map[string]Survey{"survey": fixture(), "empty": {}} {
		got := render(t, s)
		path := filepath.Join("testdata", name+".golden.html")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./report -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s (go test ./report -update rewrites it after a deliberate change):\n%s", name, path, firstDiff(got, string(want)))
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + x + "\nwant: " + y
		}
	}
	return ""
}

func TestPageCountsBinsAndLists(t *testing.T) {
	p := newPage(fixture())
	var counts []string
	for _, c := range p.Counts {
		counts = append(counts, c.Label+"="+strconv.Itoa(c.N))
	}
	if got := strings.Join(counts, " "); got != "needs-reboot=2 affected=4 unreachable=1 unsupported=1 not-affected=2" {
		t.Errorf("counts = %s", got)
	}
	bins := map[string]int{}
	for _, b := range p.Chart.Bars {
		bins[b.Label] = b.N
	}
	want := map[string]int{"0–1k": 1, "1k–2k": 1, "2k–4k": 0, "4k–8k": 0, "8k–16k": 1, "16k–32k": 0, "32k–64k": 4}
	for label, n := range want {
		if bins[label] != n {
			t.Errorf("bin %s = %d, want %d (bins %v)", label, bins[label], n, bins)
		}
	}
	if len(p.Chart.Bars) != len(want) {
		t.Errorf("%d bins, want %d", len(p.Chart.Bars), len(want))
	}
	if p.Chart.Known != 7 || p.Chart.Unknown != 2 || p.Chart.Short != 2 {
		t.Errorf("known %d unknown %d short %d, want 7, 2 (node-06, node-09), 2", p.Chart.Known, p.Chart.Unknown, p.Chart.Short)
	}
	if len(p.Reboot) != 2 || p.Reboot[0].Name != "node-04" {
		t.Errorf("reboot list = %v, want node-04 (least headroom) first", p.Reboot)
	}
	if len(p.Unreachable) != 1 || p.Unreachable[0].Name != "node-10" {
		t.Errorf("unreachable = %v", p.Unreachable)
	}
	if p.Kernels[0].Label != el7 || p.Kernels[0].N != 8 || p.Kubelets[0].Label != k112 || p.Kubelets[0].N != 7 {
		t.Errorf("kernels %v kubelets %v", p.Kernels, p.Kubelets)
	}
	// The tallest bar fills the plot; an empty bin has no height.
	for _, b := range p.Chart.Bars {
		if b.N == 4 && b.H != plotH || b.N == 0 && b.H != 0 {
			t.Errorf("bar %s: %d nodes drawn %d px high (plot %d)", b.Label, b.N, b.H, plotH)
		}
	}
}

func TestPageIsSelfContainedAndEscaped(t *testing.T) {
	html := render(t, fixture())
	for _, banned := range []string{"<script", "<link", "src=", "@import", "url("} {
		if strings.Contains(html, banned) {
			t.Errorf("page contains %q: it must need no external asset", banned)
		}
	}
	if strings.Contains(html, "<kubepods.slice>") || !strings.Contains(html, "&lt;kubepods.slice&gt; &amp; more") {
		t.Error("a reason's markup was not escaped")
	}
	if !strings.Contains(html, `<svg id="headroom-chart"`) {
		t.Error("no headroom chart")
	}
}

func TestFromFleet(t *testing.T) {
	f := &workflows.FleetPicture{Nodes: []workflows.SurveyNode{
		{Node: "a", Outcome: workflows.OutcomePlanned, Verdict: "affected", Known: true, Required: 100, Available: 5000, LeakedIDs: 7, Reason: "fits"},
		{Node: "b", Outcome: workflows.OutcomeUnreachable, Reason: "no route to host"},
		{Node: "c", Outcome: workflows.OutcomeFailedNeedsAttention, Reason: "helper crashed"},
		{Node: "d", Outcome: workflows.OutcomeSkippedNotAffected, Kernel: "3.10.0-1160.el7.x86_64", Kubelet: "Kubernetes v1.14.10"},
	}}
	s := FromFleet("r1", f, map[string]Versions{"a": {Kernel: el7, Kubelet: k112}})
	if s.RolloutID != "r1" || len(s.Nodes) != 4 {
		t.Fatalf("survey = %+v", s)
	}
	a, b, c, d := s.Nodes[0], s.Nodes[1], s.Nodes[2], s.Nodes[3]
	if a.Verdict != "affected" || !a.HeadroomKnown || a.FreeIDs != 5000 || a.Required != 100 || a.LeakedIDs != 7 ||
		a.Kernel != el7 || a.Kubelet != k112 || len(a.Reasons) != 1 || a.Error != "" {
		t.Errorf("a = %+v", a)
	}
	if b.Verdict != VerdictUnreachable || b.Error != "no route to host" || len(b.Reasons) != 0 {
		t.Errorf("b = %+v", b)
	}
	if c.Verdict != VerdictError || c.Error != "helper crashed" {
		t.Errorf("c = %+v", c)
	}
	if d.Verdict != string(workflows.OutcomeSkippedNotAffected) || d.Kernel != "3.10.0-1160.el7.x86_64" || d.Kubelet != "Kubernetes v1.14.10" {
		t.Errorf("d = %+v", d)
	}
	if got := FromFleet("r2", nil, nil); len(got.Nodes) != 0 || got.RolloutID != "r2" {
		t.Errorf("nil fleet = %+v", got)
	}
}
