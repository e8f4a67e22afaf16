package starter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/inventory"
)

// rolloutSpec is a rollout spec file (rollout.yaml): the inventory and
// every rollout setting of the config file's rollout section, which it
// overrides key by key.
//
//	name: eu-west-batch-3        # optional; the rollout ID is kmemfix-rollout-<name>
//	inventory: nodes.yaml        # relative to this file
//	dryRun: false
//	waves: ["1", "5%", "25%", "100%"]
//	concurrency: 20
//	failureBudget: 2%
//	soak: 10m
//	healthGate: {type: http, url: "http://fleet-health/ok"}
//	cordon: true                 # unschedulable while kubelet is down
type rolloutSpec struct {
	Name           string `yaml:"name"`
	Inventory      string `yaml:"inventory"`
	DryRun         bool   `yaml:"dryRun"`
	config.Rollout `yaml:",inline"`
}

// plan is a checked rollout spec with its inventory loaded and its waves
// resolved against the number of nodes.
type plan struct {
	Spec      rolloutSpec
	Nodes     []inventory.Node
	WaveSizes []int
}

// specError lists every problem of a rollout spec, its inventory and its
// waves at once.
type specError struct {
	Source   string
	Problems []string
}

func (e *specError) Error() string {
	return fmt.Sprintf("rollout spec %s: %d problem(s), fix them all and start again:\n  - %s",
		e.Source, len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// startFlags are the `rollout start` flags that override the spec.
type startFlags struct {
	file, name, inventory, waves, failureBudget string
	concurrency                                 int
	soak                                        string
	dryRun, cordon                              bool
}

func (f *startFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.file, "file", "f", "", "rollout spec file (YAML); flags below override it")
	fs.StringVar(&f.name, "name", "", "rollout name; the ID is kmemfix-rollout-NAME (default: generated)")
	fs.StringVarP(&f.inventory, "inventory", "i", "", "inventory file (YAML or CSV)")
	fs.StringVar(&f.waves, "waves", "", `cumulative waves, comma-separated, e.g. "1,5%,25%,100%"`)
	fs.IntVar(&f.concurrency, "concurrency", 0, "nodes remediated at once within a wave")
	fs.StringVar(&f.failureBudget, "failure-budget", "", `failures that stop the rollout: a count ("3") or a share ("2%")`)
	fs.StringVar(&f.soak, "soak", "", `wait after each wave, e.g. "10m"`)
	fs.BoolVar(&f.dryRun, "dry-run", false, "inspect every node and report the plan; change nothing")
	fs.BoolVar(&f.cordon, "cordon", false, "cordon each node while its kubelet is down (default rollout.cordon; the worker needs Kubernetes access)")
}

// loadPlan reads the spec file (if any) over the config's rollout defaults,
// applies the flags that were set, loads the inventory and resolves the
// waves. Every problem found along the way is reported in one *specError.
func loadPlan(cfg *config.Config, f *startFlags, fs *pflag.FlagSet) (*plan, error) {
	spec := rolloutSpec{Rollout: cfg.Rollout}
	source, base := "(flags)", "."
	var problems []string
	var lines map[string]int
	if f.file != "" {
		source, base = f.file, filepath.Dir(f.file)
		var err error
		if problems, lines, err = readSpec(f.file, &spec); err != nil {
			return nil, usageError(err)
		}
	}
	if err := f.apply(fs, &spec); err != nil {
		problems = append(problems, err.Error())
	}
	for _, p := range spec.Problems() {
		key := strings.TrimPrefix(p.Key, "rollout.")
		s := key + ": " + p.Message + "; " + p.Fix
		if l := lines[strings.ToLower(strings.SplitN(key, "[", 2)[0])]; l > 0 && !fs.Changed(flagOf(key)) {
			s = fmt.Sprintf("line %d: %s", l, s)
		}
		problems = append(problems, s)
	}
	if spec.Name != "" && !validName.MatchString(spec.Name) {
		problems = append(problems, fmt.Sprintf("name: %q is not a valid rollout name; use letters, digits, '.', '_' and '-' (at most 200)", spec.Name))
	}
	if !spec.DryRun && (cfg.Node.ReplacementKubelet.Path == "" || cfg.Node.ReplacementKubelet.SHA256 == "") {
		problems = append(problems, "node.replacementKubelet (config): path and sha256 are not both set; a rollout swaps kubelet for the build without kmem accounting: set both in the config file (or KMEMFIX_NODE_REPLACEMENTKUBELET_PATH/_SHA256), or pass --dry-run to survey only")
	}
	p := &plan{Spec: spec}
	switch spec.Inventory {
	case "":
		problems = append(problems, "inventory: is not set; name the inventory file in the spec (inventory: nodes.yaml) or pass --inventory FILE")
	default:
		path := spec.Inventory
		if !filepath.IsAbs(path) && !fs.Changed("inventory") {
			path = filepath.Join(base, path)
		}
		inv, err := inventory.Load(path)
		var ve *inventory.ValidationError
		switch {
		case errors.As(err, &ve):
			for _, ip := range ve.Problems {
				problems = append(problems, "inventory "+path+": "+ip.String())
			}
		case err != nil:
			problems = append(problems, err.Error())
		default:
			p.Nodes = inv.Resolved()
			p.Spec.Inventory = path
		}
	}
	if len(p.Nodes) > 0 && len(config.CheckWaves(spec.Waves)) == 0 {
		sizes, err := config.ResolveWaves(spec.Waves, len(p.Nodes))
		if err != nil {
			problems = append(problems, "waves: "+err.Error())
		}
		p.WaveSizes = sizes
	}
	if len(problems) > 0 {
		return nil, usageError(&specError{Source: source, Problems: problems})
	}
	return p, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// flagOf is the `rollout start` flag that overrides a spec key, if any.
func flagOf(key string) string {
	switch key {
	case "waves", "concurrency", "soak":
		return key
	case "failureBudget":
		return "failure-budget"
	}
	return ""
}

// apply copies the flags that were set onto the spec.
func (f *startFlags) apply(fs *pflag.FlagSet, s *rolloutSpec) error {
	if fs.Changed("name") {
		s.Name = f.name
	}
	if fs.Changed("inventory") {
		s.Inventory = f.inventory
	}
	if fs.Changed("waves") {
		s.Waves = strings.Split(f.waves, ",")
		for i := range s.Waves {
			s.Waves[i] = strings.TrimSpace(s.Waves[i])
		}
	}
	if fs.Changed("concurrency") {
		s.Concurrency = f.concurrency
	}
	if fs.Changed("failure-budget") {
		s.FailureBudget = f.failureBudget
	}
	if fs.Changed("dry-run") {
		s.DryRun = f.dryRun
	}
	if fs.Changed("cordon") {
		s.Cordon = f.cordon
	}
	if fs.Changed("soak") {
		d, err := parseDuration(f.soak)
		if err != nil {
			return fmt.Errorf("--soak: %w", err)
		}
		s.Soak = d
	}
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write it like \"30s\", \"5m\" or \"1h\"", s)
	}
	return d, nil
}

// nearest is the word of words closest to w, or "" if none is close.
func nearest(w string, words []string) string {
	best, dist := "", 3
	for _, c := range words {
		if d := levenshtein.ComputeDistance(strings.ToLower(w), strings.ToLower(c)); d < dist {
			best, dist = c, d
		}
	}
	return best
}

// readSpec decodes a spec file over spec, returning its problems (unknown
// keys, wrong types) and the line of every key.
func readSpec(path string, spec *rolloutSpec) ([]string, map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("rollout spec: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("rollout spec %s is not valid YAML: %w", path, err)
	}
	lines := map[string]int{}
	keyLines(&doc, "", lines)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err = dec.Decode(spec)
	var te *yaml.TypeError
	switch {
	case err == nil || errors.Is(err, io.EOF): // an empty file: all defaults
		return nil, lines, nil
	case errors.As(err, &te):
		byLine := map[string]string{}
		for k, l := range lines {
			byLine[strconv.Itoa(l)] = k
		}
		var ps []string
		for _, e := range te.Errors {
			ps = append(ps, explainYAML(e, byLine))
		}
		return ps, lines, nil
	default:
		return nil, nil, fmt.Errorf("rollout spec %s: %w", path, err)
	}
}

func keyLines(n *yaml.Node, prefix string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			keyLines(c, prefix, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix != "" {
				key = prefix + "." + key
			}
			lines[strings.ToLower(key)] = n.Content[i].Line
			keyLines(n.Content[i+1], key, lines)
		}
	}
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)
	badValue     = regexp.MustCompile("^line (\\d+): cannot unmarshal !!\\w+ `(.*)` into (\\S+)$")
)

// explainYAML turns yaml.v3's decoding errors into what to do.
func explainYAML(e string, keyAt map[string]string) string {
	if m := unknownField.FindStringSubmatch(e); m != nil {
		msg := fmt.Sprintf("line %s: %s is not a rollout spec key; use one of: %s", m[1], m[2], strings.Join(specKeys, ", "))
		if s := nearest(m[2], specKeys); s != "" {
			msg = fmt.Sprintf("line %s: %s is not a rollout spec key; did you mean %s?", m[1], m[2], s)
		}
		return msg
	}
	if m := badValue.FindStringSubmatch(e); m != nil {
		return fmt.Sprintf("line %s: %s: %q is not a valid %s", m[1], orWord(keyAt[m[1]], "value"), m[2], goTypeWords(m[3]))
	}
	return e
}

var specKeys = []string{"name", "inventory", "dryRun", "waves", "concurrency", "failureBudget", "countUnreachable",
	"soak", "kubeletDownBudget", "healthGate", "maintenanceWindow", "cordon"}

func goTypeWords(t string) string {
	switch t {
	case "time.Duration":
		return `duration (e.g. "30s", "5m")`
	case "int":
		return "whole number"
	case "bool":
		return "true/false"
	case "[]string":
		return "list of strings"
	}
	return t
}
