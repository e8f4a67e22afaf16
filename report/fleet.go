package report

import (
	"cmp"
	"strings"

	"github.com/kmemfix/kmemfix/workflows"
)

// Versions are a node's kernel and kubelet versions, e.g. from the
// Kubernetes API (kube.ListNodes) when the survey itself did not read them.
type Versions struct {
	Kernel, Kubelet string
}

// FromFleet builds a Survey from a survey rollout's result. The versions
// the inspection read are shown unless versions (e.g. from the Kubernetes
// API) names others; versions may be nil.
func FromFleet(rolloutID string, f *workflows.FleetPicture, versions map[string]Versions) Survey {
	s := Survey{RolloutID: rolloutID}
	if f == nil {
		return s
	}
	for _, n := range f.Nodes {
		row := Node{
			Name: n.Node, Verdict: n.Verdict, HeadroomKnown: n.Known,
			FreeIDs: n.Available, Required: n.Required, LeakedIDs: n.LeakedIDs,
			Kernel:  cmp.Or(versions[n.Node].Kernel, n.Kernel),
			Kubelet: cmp.Or(versions[n.Node].Kubelet, n.Kubelet),
		}
		switch {
		case n.Outcome == workflows.OutcomeUnreachable:
			row.Verdict, row.Error = VerdictUnreachable, n.Reason
		case row.Verdict == "" && strings.HasPrefix(string(n.Outcome), "failed"):
			row.Verdict, row.Error = VerdictError, n.Reason
		default:
			row.Verdict = cmp.Or(row.Verdict, string(n.Outcome))
			if n.Reason != "" {
				row.Reasons = []string{n.Reason}
			}
		}
		s.Nodes = append(s.Nodes, row)
	}
	return s
}
