package inventory

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseYAML walks the YAML node tree rather than decoding into structs, so
// that every unknown key, wrong type and position is known and all of them
// are reported together.
func parseYAML(data []byte) (*Inventory, position, []position, []Problem) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, position{}, nil, []Problem{{Message: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Fix: "fix the syntax (indentation, colons, quotes)"}}
	}
	if len(doc.Content) == 0 {
		return nil, position{}, nil, []Problem{{Message: "the file is empty", Fix: "list nodes under a top-level nodes: key"}}
	}
	p := &yamlParser{inv: &Inventory{}}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.problem(root.Line, "", "the top level is not a mapping", "write `defaults:` and `nodes:` keys at the top level")
		return nil, position{}, nil, p.ps
	}
	sawNodes := false
	p.eachKey(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "defaults":
			p.defaults(v)
		case "nodes":
			sawNodes = true
			p.nodes(v)
		default:
			p.unknown(k, "", "defaults, nodes")
		}
	})
	if !sawNodes {
		p.problem(root.Line, "", "no nodes: key", "list the nodes under a top-level nodes: key")
		return nil, position{}, nil, p.ps
	}
	return p.inv, p.dpos, p.pos, p.ps
}

type yamlParser struct {
	inv  *Inventory
	dpos position // where the defaults were written
	pos  []position
	ps   []Problem
}

func (p *yamlParser) problem(line int, entry, msg, fix string) {
	p.ps = append(p.ps, Problem{Line: line, Entry: entry, Message: msg, Fix: fix})
}

func (p *yamlParser) unknown(k *yaml.Node, entry, known string) {
	p.problem(k.Line, entry, fmt.Sprintf("unknown key %q", k.Value), "remove it or use one of: "+known)
}

// eachKey calls fn for each key of a mapping, reporting duplicate keys.
func (p *yamlParser) eachKey(m *yaml.Node, entry string, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if seen[k.Value] {
			p.problem(k.Line, entry, fmt.Sprintf("key %q given twice", k.Value), "keep one")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
}

func (p *yamlParser) defaults(v *yaml.Node) {
	if v.Kind != yaml.MappingNode {
		p.problem(v.Line, "", "defaults is not a mapping", "write defaults: {user: NAME, port: N}")
		return
	}
	p.eachKey(v, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "user":
			p.inv.Defaults.User, p.dpos.user = p.strAt(v, "", "defaults: user")
		case "port":
			p.inv.Defaults.Port, p.dpos.port = p.port(v, "", "defaults: port")
		default:
			p.unknown(k, "", "user, port")
		}
	})
}

func (p *yamlParser) nodes(v *yaml.Node) {
	if v.Kind != yaml.SequenceNode {
		p.problem(v.Line, "", "nodes is not a list", "write nodes: followed by `- {name: ..., address: ...}` entries")
		return
	}
	for i, item := range v.Content {
		entry := fmt.Sprintf("#%d", i+1)
		pos := position{entry: item.Line}
		var n Node
		if item.Kind != yaml.MappingNode {
			p.problem(item.Line, entry, "entry is not a mapping", "write {name: ..., address: ...}")
		} else {
			for j := 0; j+1 < len(item.Content); j += 2 { // name first, to label the other problems
				if k, val := item.Content[j], item.Content[j+1]; k.Value == "name" && val.Kind == yaml.ScalarNode && val.Value != "" {
					entry = entryName(val.Value, i)
				}
			}
			p.eachKey(item, entry, func(key string, k, val *yaml.Node) { p.field(&n, &pos, entry, key, k, val) })
		}
		p.inv.Nodes = append(p.inv.Nodes, n)
		p.pos = append(p.pos, pos)
	}
}

func (p *yamlParser) field(n *Node, pos *position, entry, key string, k, v *yaml.Node) {
	switch key {
	case "name":
		n.Name, pos.name = p.strAt(v, entry, "name")
	case "address":
		n.Address, pos.address = p.strAt(v, entry, "address")
	case "port":
		n.Port, pos.port = p.port(v, entry, "port")
	case "user":
		n.User, pos.user = p.strAt(v, entry, "user")
	case "arch":
		n.Arch, pos.arch = p.strAt(v, entry, "arch")
	case "labels":
		pos.labels = v.Line
		n.Labels = p.labels(v, entry)
	default:
		p.unknown(k, entry, "name, address, port, user, arch, labels")
	}
}

func (p *yamlParser) strAt(v *yaml.Node, entry, what string) (string, int) {
	s, _ := p.str(v, entry, what)
	return s, v.Line
}

func (p *yamlParser) str(v *yaml.Node, entry, what string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.problem(v.Line, entry, what+" is not a plain value", "write it as a string")
		return "", false
	}
	return v.Value, true
}

func (p *yamlParser) port(v *yaml.Node, entry, what string) (int, int) {
	s, ok := p.str(v, entry, what)
	if !ok {
		return 0, v.Line
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		p.problem(v.Line, entry, fmt.Sprintf("%s %q is not a number", what, s), "use a port from 1 to 65535")
		return 0, v.Line
	}
	if n == 0 {
		p.problem(v.Line, entry, what+" 0 is out of range", "use a port from 1 to 65535, or leave it out for the default")
	}
	return n, v.Line
}

func (p *yamlParser) labels(v *yaml.Node, entry string) map[string]string {
	if v.Kind != yaml.MappingNode {
		p.problem(v.Line, entry, "labels is not a mapping", "write labels: {key: value}")
		return nil
	}
	out := map[string]string{}
	p.eachKey(v, entry, func(key string, _, val *yaml.Node) {
		if s, ok := p.str(val, entry, "label "+strconv.Quote(key)); ok {
			out[key] = s
		}
	})
	return out
}

// writeYAML writes a canonical file: defaults, then one flow mapping a node.
func writeYAML(w io.Writer, inv *Inventory) error {
	var b bytes.Buffer
	if inv.Defaults.User != "" || inv.Defaults.Port != 0 {
		b.WriteString("defaults:\n")
		if inv.Defaults.User != "" {
			fmt.Fprintf(&b, "  user: %s\n", yamlScalar(inv.Defaults.User))
		}
		if inv.Defaults.Port != 0 {
			fmt.Fprintf(&b, "  port: %d\n", inv.Defaults.Port)
		}
	}
	b.WriteString("nodes:\n")
	for _, n := range inv.Nodes {
		fields := []string{"name: " + yamlScalar(n.Name), "address: " + yamlScalar(n.Address)}
		if n.Port != 0 {
			fields = append(fields, "port: "+strconv.Itoa(n.Port))
		}
		if n.User != "" {
			fields = append(fields, "user: "+yamlScalar(n.User))
		}
		if n.Arch != "" {
			fields = append(fields, "arch: "+yamlScalar(n.Arch))
		}
		if len(n.Labels) > 0 {
			var ls []string
			for _, k := range sortedKeys(n.Labels) {
				ls = append(ls, yamlScalar(k)+": "+yamlScalar(n.Labels[k]))
			}
			fields = append(fields, "labels: {"+strings.Join(ls, ", ")+"}")
		}
		fmt.Fprintf(&b, "  - {%s}\n", strings.Join(fields, ", "))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// yamlScalar quotes s unless it is plainly a string YAML reads back as is.
func yamlScalar(s string) string {
	plain := s != ""
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && strings.IndexByte("._-/", c) < 0 {
			plain = false
			break
		}
	}
	if plain {
		var v any
		if err := yaml.Unmarshal([]byte(s), &v); err == nil {
			if str, ok := v.(string); ok && str == s {
				return s
			}
		}
	}
	return strconv.Quote(s)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
