package inventory

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong in an inventory file, with where and how to
// fix it.
type Problem struct {
	Line    int    // 1-based line in the file; 0 when it is the file as a whole
	Entry   string // the node it concerns: its name, or #N (1-based) when unnamed
	Message string // what is wrong
	Fix     string // what to do
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Entry != "" {
		fmt.Fprintf(&b, "node %s: ", p.Entry)
	}
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString(": ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// ValidationError lists every problem found in an inventory.
type ValidationError struct {
	File     string // set by Load
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	name := "inventory"
	if e.File != "" {
		name = "inventory " + e.File
	}
	noun := "problems"
	if len(e.Problems) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "%s: %d %s, fix them all and load again:", name, len(e.Problems), noun)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

func sortProblems(ps []Problem) []Problem {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}
