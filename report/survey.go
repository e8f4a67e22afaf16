// Package report renders what a survey found as a self-contained HTML page
// (inline CSS and SVG, no external asset, no script) that people read: the
// count of nodes per verdict, a histogram of free css ids (headroom), the
// nodes that need a reboot, those that could not be surveyed, and the
// kernels and kubelet versions of the fleet.
package report

import (
	"time"
)

// Verdicts as the page names and colours them. Any other string is shown
// as is, in grey.
const (
	VerdictAffected    = "affected"
	VerdictNotAffected = "not-affected"
	VerdictNeedsReboot = "needs-reboot"
	VerdictUnsupported = "unsupported"
	VerdictUnreachable = "unreachable"
	VerdictError       = "error"
)

// Survey is what the page shows.
type Survey struct {
	// Title heads the page; "" gives "kmemfix survey".
	Title string
	// RolloutID is the survey's workflow ID, shown for reference.
	RolloutID string
	// Generated is when the survey ended (shown in UTC).
	Generated time.Time
	// IDLimit is the css id ceiling (65535 on 3.10); 0 means 65535.
	IDLimit int
	Nodes   []Node
}

// Node is one surveyed node.
type Node struct {
	Name    string
	Verdict string // one of the Verdict constants, or another word
	Reasons []string
	// HeadroomKnown says whether FreeIDs and Required were read (the css
	// id count needs systemtap on the node).
	HeadroomKnown bool
	FreeIDs       int // css ids still free
	Required      int // css ids the procedure needs (mirror + rebuild + margin)
	LeakedIDs     int // css ids held by removed cgroups; -1 when unknown
	Kernel        string
	Kubelet       string
	// Error is why the node could not be surveyed ("" if it was).
	Error string
}

// DefaultIDLimit is the highest css id of the 3.10 memory controller.
const DefaultIDLimit = 65535
