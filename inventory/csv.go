package inventory

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

var csvColumns = []string{"name", "address", "port", "user", "arch", "labels"}

// parseCSV reads a CSV inventory; the header names the columns.
func parseCSV(data []byte) (*Inventory, []position, []Problem) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1 // row lengths are checked here, all rows at once
	r.Comment = '#'
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, []Problem{{Message: "the file is empty", Fix: "start with the header line " + strings.Join(csvColumns[:4], ",") + ",labels"}}
	}
	if err != nil {
		return nil, nil, []Problem{csvSyntax(err)}
	}
	headerLine, _ := r.FieldPos(0)
	var ps []Problem
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case !known(h):
			ps = append(ps, Problem{Line: headerLine, Message: fmt.Sprintf("unknown column %q", h), Fix: "remove it or use one of: " + strings.Join(csvColumns, ", ")})
		case col[h] != 0:
			ps = append(ps, Problem{Line: headerLine, Message: fmt.Sprintf("column %q given twice", h), Fix: "keep one"})
		default:
			col[h] = i + 1
		}
	}
	for _, need := range []string{"name", "address"} {
		if col[need] == 0 {
			ps = append(ps, Problem{Line: headerLine, Message: fmt.Sprintf("no %s column", need), Fix: "the header needs at least name,address"})
		}
	}
	if len(ps) > 0 {
		return nil, nil, ps
	}
	inv := &Inventory{}
	var pos []position
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			ps = append(ps, csvSyntax(err))
			break
		}
		line, _ := r.FieldPos(0)
		n, more := csvNode(rec, col, len(header), line, len(inv.Nodes))
		ps = append(ps, more...)
		inv.Nodes = append(inv.Nodes, n)
		pos = append(pos, position{entry: line})
	}
	return inv, pos, ps
}

func known(h string) bool {
	for _, c := range csvColumns {
		if c == h {
			return true
		}
	}
	return false
}

func csvNode(rec []string, col map[string]int, width, line, index int) (Node, []Problem) {
	get := func(name string) string {
		if i := col[name]; i > 0 && i <= len(rec) {
			return strings.TrimSpace(rec[i-1])
		}
		return ""
	}
	n := Node{Name: get("name"), Address: get("address"), User: get("user"), Arch: get("arch")}
	entry := entryName(n.Name, index)
	var ps []Problem
	if len(rec) != width {
		ps = append(ps, Problem{Line: line, Entry: entry, Message: fmt.Sprintf("%d fields, the header has %d", len(rec), width), Fix: "give every row one field per column (empty is fine); quote fields containing commas"})
	}
	if s := get("port"); s != "" {
		p, err := strconv.Atoi(s)
		switch {
		case err != nil:
			ps = append(ps, Problem{Line: line, Entry: entry, Message: fmt.Sprintf("port %q is not a number", s), Fix: "use a port from 1 to 65535"})
		case p == 0:
			ps = append(ps, Problem{Line: line, Entry: entry, Message: "port 0 is out of range", Fix: "use a port from 1 to 65535, or leave it empty for the default"})
		default:
			n.Port = p
		}
	}
	if s := get("labels"); s != "" {
		n.Labels = map[string]string{}
		for _, kv := range strings.Split(s, ";") {
			k, v, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				ps = append(ps, Problem{Line: line, Entry: entry, Message: fmt.Sprintf("label %q is not key=value", kv), Fix: "write labels as k=v;k=v"})
				continue
			}
			if _, dup := n.Labels[k]; dup {
				ps = append(ps, Problem{Line: line, Entry: entry, Message: fmt.Sprintf("label %q given twice", k), Fix: "keep one"})
			}
			n.Labels[k] = strings.TrimSpace(v)
		}
	}
	return n, ps
}

func csvSyntax(err error) Problem {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return Problem{Line: pe.Line, Message: "not valid CSV: " + pe.Err.Error(), Fix: "quote fields that contain commas or quotes, doubling inner quotes"}
	}
	return Problem{Message: "not valid CSV: " + err.Error(), Fix: "fix the file's syntax"}
}

// writeCSV writes every node with the defaults folded in. The arch column
// appears only when some node has one.
func writeCSV(w io.Writer, inv *Inventory) error {
	cols := []string{"name", "address", "port", "user", "labels"}
	withArch := false
	for _, n := range inv.Nodes {
		withArch = withArch || n.Arch != ""
	}
	if withArch {
		cols = []string{"name", "address", "port", "user", "arch", "labels"}
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(cols)
	for _, n := range inv.Resolved() {
		var ls []string
		for _, k := range sortedKeys(n.Labels) {
			v := n.Labels[k]
			if strings.ContainsAny(k, "=;") || strings.Contains(v, ";") {
				return fmt.Errorf("node %q: label %q=%q cannot be written as CSV k=v;k=v: use YAML for labels with '=' or ';'", n.Name, k, v)
			}
			ls = append(ls, k+"="+v)
		}
		row := []string{n.Name, n.Address, strconv.Itoa(n.Port), n.User}
		if withArch {
			row = append(row, n.Arch)
		}
		_ = cw.Write(append(row, strings.Join(ls, ";")))
	}
	cw.Flush()
	return cw.Error()
}
