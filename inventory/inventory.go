// Package inventory reads and writes the list of nodes kmemfix works on.
//
// Two formats carry the same data. YAML:
//
//	defaults: {user: kmemfix, port: 22}
//	nodes:
//	  - {name: node-001, address: 10.0.0.1, labels: {zone: a}}
//	  - {name: node-002, address: node-002.example.net, port: 2222, user: root, arch: arm64}
//
// CSV, with a header naming the columns (name and address required; port,
// user, arch and labels optional; labels written k=v;k=v):
//
//	name,address,port,user,labels
//	node-001,10.0.0.1,22,kmemfix,zone=a;rack=r1
//
// Loading validates the whole file and reports every problem at once, each
// with its line and the fix, so a thousand-node file is mended in one pass.
package inventory

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPort and DefaultUser apply when neither the node nor the defaults
// give one.
const (
	DefaultPort = 22
	DefaultUser = "root"
)

// Node is one host to remediate.
type Node struct {
	Name    string
	Address string // IP address or host name
	Port    int    // 0: Defaults.Port
	User    string // empty: Defaults.User
	Arch    string // amd64 or arm64; empty: found out on the node (uname -m)
	Labels  map[string]string
}

// Defaults fill what a node leaves out.
type Defaults struct {
	User string
	Port int
}

// Inventory is a list of nodes and their defaults, as written in the file.
type Inventory struct {
	Defaults Defaults
	Nodes    []Node
}

// Format names a file format.
type Format string

// The formats Load and Parse read and Write writes.
const (
	YAML Format = "yaml"
	CSV  Format = "csv"
)

// FormatOf chooses the format from a file name's extension.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return YAML, nil
	case ".csv":
		return CSV, nil
	}
	return "", fmt.Errorf("inventory %s: unknown extension %q: name the file .yaml, .yml or .csv", path, filepath.Ext(path))
}

// Load reads and validates an inventory file, choosing the format by
// extension. A file with problems returns a *ValidationError listing all.
func Load(path string) (*Inventory, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer f.Close()
	inv, err := Parse(f, format)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.File = path
		}
		return nil, err
	}
	return inv, nil
}

// Parse reads and validates an inventory in the given format.
func Parse(r io.Reader, format Format) (*Inventory, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("inventory: read: %w", err)
	}
	var (
		inv  *Inventory
		dpos position
		pos  []position
		ps   []Problem
	)
	switch format {
	case YAML:
		inv, dpos, pos, ps = parseYAML(data)
	case CSV:
		inv, pos, ps = parseCSV(data)
	default:
		return nil, fmt.Errorf("inventory: unknown format %q: use %q or %q", format, YAML, CSV)
	}
	if inv != nil {
		ps = append(ps, validate(inv, dpos, pos)...)
	}
	if len(ps) > 0 {
		return nil, &ValidationError{Problems: sortProblems(ps)}
	}
	return inv, nil
}

// Write writes inv as YAML.
func Write(w io.Writer, inv *Inventory) error { return writeYAML(w, inv) }

// WriteCSV writes inv as CSV; the defaults are folded into every row, since
// CSV has no place for them.
func WriteCSV(w io.Writer, inv *Inventory) error { return writeCSV(w, inv) }

// Save writes inv to path in the format its extension names (0644).
func Save(path string, inv *Inventory) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	if format == CSV {
		err = writeCSV(f, inv)
	} else {
		err = writeYAML(f, inv)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("inventory: write %s: %w", path, err)
	}
	return nil
}

// Resolved returns the nodes with defaults applied: every node has a port
// and a user.
func (inv *Inventory) Resolved() []Node {
	out := make([]Node, len(inv.Nodes))
	for i, n := range inv.Nodes {
		if n.Port == 0 {
			n.Port = inv.Defaults.Port
		}
		if n.Port == 0 {
			n.Port = DefaultPort
		}
		if n.User == "" {
			n.User = inv.Defaults.User
		}
		if n.User == "" {
			n.User = DefaultUser
		}
		out[i] = n
	}
	return out
}
