package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// page is the template's data, computed once from a Survey.
type page struct {
	Title, RolloutID, Generated string
	Total                       int
	Counts                      []count
	Chart                       chart
	Reboot                      []Node
	Unreachable                 []Node
	Kernels, Kubelets           []count
	Nodes                       []Node
}

// count is a label, how many nodes carry it, and its colour class.
type count struct {
	Label string
	N     int
	Class string
}

// verdictOrder lists the verdicts most in need of attention first.
var verdictOrder = []string{VerdictNeedsReboot, VerdictAffected, VerdictUnreachable, VerdictError, VerdictUnsupported, VerdictNotAffected}

func verdictClass(v string) string {
	if slices.Contains(verdictOrder, v) {
		return "v-" + v
	}
	return "v-other"
}

func newPage(s Survey) page {
	p := page{Title: cmp.Or(s.Title, "kmemfix survey"), RolloutID: s.RolloutID, Total: len(s.Nodes)}
	if !s.Generated.IsZero() {
		p.Generated = s.Generated.UTC().Format(time.RFC3339)
	}
	p.Nodes = slices.SortedFunc(slices.Values(s.Nodes), func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	verdicts, kernels, kubelets := map[string]int{}, map[string]int{}, map[string]int{}
	for _, n := range p.Nodes {
		verdicts[n.Verdict]++
		kernels[cmp.Or(n.Kernel, "unknown")]++
		kubelets[cmp.Or(n.Kubelet, "unknown")]++
		switch n.Verdict {
		case VerdictNeedsReboot:
			p.Reboot = append(p.Reboot, n)
		case VerdictUnreachable, VerdictError:
			p.Unreachable = append(p.Unreachable, n)
		}
	}
	slices.SortStableFunc(p.Reboot, func(a, b Node) int { return cmp.Compare(a.FreeIDs, b.FreeIDs) })
	for _, v := range verdictOrder {
		if verdicts[v] > 0 {
			p.Counts = append(p.Counts, count{v, verdicts[v], verdictClass(v)})
			delete(verdicts, v)
		}
	}
	for _, c := range sortedCounts(verdicts) {
		p.Counts = append(p.Counts, count{c.Label, c.N, "v-other"})
	}
	p.Kernels, p.Kubelets = sortedCounts(kernels), sortedCounts(kubelets)
	p.Chart = newChart(p.Nodes, cmp.Or(s.IDLimit, DefaultIDLimit))
	return p
}

// sortedCounts orders by count, most first, then by label.
func sortedCounts(m map[string]int) []count {
	var out []count
	for k, n := range m {
		out = append(out, count{Label: k, N: n})
	}
	slices.SortFunc(out, func(a, b count) int {
		return cmp.Or(cmp.Compare(b.N, a.N), strings.Compare(a.Label, b.Label))
	})
	return out
}

// headroom describes a node's free ids for the tables.
func headroom(n Node) string {
	if !n.HeadroomKnown {
		return "unknown"
	}
	return fmt.Sprintf("%d free / %d needed", n.FreeIDs, n.Required)
}

func leaked(n Node) string {
	if n.LeakedIDs < 0 || (!n.HeadroomKnown && n.LeakedIDs == 0) {
		return "unknown"
	}
	return fmt.Sprint(n.LeakedIDs)
}
