package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// PathEnv names the config file when Load is given no path.
const PathEnv = "KMEMFIX_CONFIG"

// Load reads the configuration: defaults, then the YAML file at path (if
// path is "", the file named by $KMEMFIX_CONFIG, if any), then KMEMFIX_*
// environment variables, then the flags of fs that were set on the command
// line (a flag named FlagName(key), e.g. --temporal-address; fs may be nil).
// A leading "~/" in file paths is expanded. It returns a *ValidationError
// listing every problem found, or a plain error if the file cannot be read.
func Load(path string, fs *pflag.FlagSet) (*Config, error) {
	if path == "" {
		path = os.Getenv(PathEnv)
	}
	v, problems, lines, err := newViper(path, fs)
	if err != nil {
		return nil, err
	}
	cfg := Default()
	problems = append(problems, decode(v, &cfg)...)
	cfg.expandHome()
	problems = append(problems, cfg.problems()...)
	for i := range problems {
		if problems[i].Line == 0 && fromFile(problems[i].Key, fs) {
			problems[i].Line = lines[lineKey(problems[i].Key)]
		}
	}
	if len(problems) > 0 {
		return &cfg, &ValidationError{File: path, Problems: problems}
	}
	return &cfg, nil
}

// newViper layers defaults, the file, the environment and the flags, and
// reports the file's unknown keys.
func newViper(path string, fs *pflag.FlagSet) (*viper.Viper, []Problem, map[string]int, error) {
	v := viper.New()
	def := reflect.ValueOf(Default())
	for _, f := range fields() {
		v.SetDefault(f.Key, def.FieldByIndex(f.Index).Interface())
		if err := v.BindEnv(append([]string{f.Key}, EnvNames(f.Key)...)...); err != nil {
			return nil, nil, nil, fmt.Errorf("config: bind env for %s: %w", f.Key, err)
		}
		if fs == nil {
			continue
		}
		if fl := fs.Lookup(FlagName(f.Key)); fl != nil {
			if err := v.BindPFlag(f.Key, fl); err != nil {
				return nil, nil, nil, fmt.Errorf("config: bind flag --%s: %w", fl.Name, err)
			}
		}
	}
	if path == "" {
		return v, nil, nil, nil
	}
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the config file
	if err != nil {
		return nil, nil, nil, fmt.Errorf("config: read %s: %w (pass --config FILE or unset %s)", path, err, PathEnv)
	}
	problems, lines, err := checkKeys(data)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("config: %s is not valid YAML: %w", path, err)
	}
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, nil, nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return v, problems, lines, nil
}

// checkKeys walks the file's mappings and reports every key that is not a
// setting, with its line and the closest known key. It also returns the line
// of every key, lower-cased.
func checkKeys(data []byte) ([]Problem, map[string]int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, err
	}
	lines := map[string]int{}
	if len(doc.Content) == 0 { // empty file
		return nil, lines, nil
	}
	known := map[string]bool{}
	for _, k := range knownKeys() {
		known[strings.ToLower(k)] = true
	}
	leaf := map[string]bool{}
	for _, f := range fields() {
		leaf[strings.ToLower(f.Key)] = true
	}
	var problems []Problem
	var rec func(n *yaml.Node, prefix string)
	rec = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			key := prefix
			if key == "" {
				key = "(top level)"
			}
			problems = append(problems, Problem{Key: key, Line: n.Line,
				Message: "is not a mapping", Fix: "write the section as `key: value` lines"})
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := join(prefix, k.Value)
			lk := strings.ToLower(key)
			lines[lk] = k.Line
			switch {
			case !known[lk]:
				p := Problem{Key: key, Line: k.Line, Message: "is not a known setting", Fix: "remove it"}
				if s := suggest(key, knownKeys()); s != "" {
					p.Fix = "did you mean " + s + "?"
				}
				problems = append(problems, p)
			case !leaf[lk] && val.Tag != "!!null":
				rec(val, key)
			}
		}
	}
	rec(doc.Content[0], "")
	return problems, lines, nil
}

// lineKey maps a problem's key ("ssh.keyFiles[2]") to the file key it sits on.
func lineKey(key string) string {
	if i := strings.Index(key, "["); i >= 0 {
		key = key[:i]
	}
	return strings.ToLower(key)
}

// fromFile reports whether key's value can only have come from the file:
// neither its environment variables nor its flag are set.
func fromFile(key string, fs *pflag.FlagSet) bool {
	key = lineKey(key)
	for _, f := range fields() {
		if strings.ToLower(f.Key) != key {
			continue
		}
		for _, e := range EnvNames(f.Key) {
			if _, ok := os.LookupEnv(e); ok {
				return false
			}
		}
		if fs != nil {
			if fl := fs.Lookup(FlagName(f.Key)); fl != nil && fl.Changed {
				return false
			}
		}
	}
	return true
}

// decode fills cfg from v one setting at a time, so each bad value is a
// problem naming its own key.
func decode(v *viper.Viper, cfg *Config) []Problem {
	var problems []Problem
	root := reflect.ValueOf(cfg).Elem()
	for _, f := range fields() {
		raw := v.Get(f.Key)
		if raw == nil { // `key:` with no value, or under a broken section: keep the default
			continue
		}
		dst := root.FieldByIndex(f.Index)
		if p, ok := decodeValue(f, raw, dst); !ok {
			problems = append(problems, p)
		}
		if dst.Kind() == reflect.Slice && dst.Len() == 0 {
			dst.SetZero() // an empty list is no list: one spelling for both
		}
	}
	return problems
}

func decodeValue(f field, raw any, dst reflect.Value) (Problem, bool) {
	if f.Type == reflect.TypeFor[time.Duration]() {
		switch raw.(type) {
		case int, int64, float64, uint64:
			if reflect.ValueOf(raw).IsZero() {
				dst.SetInt(0)
				return Problem{}, true
			}
			return Problem{Key: f.Key, Message: fmt.Sprintf("%v has no unit", raw),
				Fix: fmt.Sprintf(`write it with a unit, e.g. "%vs"`, raw)}, false
		}
	}
	out := reflect.New(f.Type)
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		WeaklyTypedInput: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			argvListsFromString,
			splitCommaString,
		),
		Result: out.Interface(),
	})
	if err == nil {
		err = dec.Decode(raw)
	}
	if err != nil {
		return Problem{Key: f.Key, Message: fmt.Sprintf("%s is not %s", show(raw), want(f.Type)),
			Fix: "correct the value in the file, the environment (" + EnvNames(f.Key)[0] + ") or the flag (--" + FlagName(f.Key) + ")"}, false
	}
	dst.Set(out.Elem())
	return Problem{}, true
}

// splitCommaString turns "a,b" (from the environment) into a list.
func splitCommaString(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice || to.Elem().Kind() != reflect.String {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// argvListsFromString reads [][]string from a YAML flow string such as
// `[[systemctl, restart, cadvisor]]`, as the environment provides it.
func argvListsFromString(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeFor[[][]string]() {
		return data, nil
	}
	var out [][]string
	if err := yaml.Unmarshal([]byte(data.(string)), &out); err != nil {
		return nil, errors.New("not a list of argv lists")
	}
	return out, nil
}

func show(raw any) string {
	if s, ok := raw.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%v", raw)
}

func want(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return `a duration (e.g. "30s", "5m", "1h")`
	case t == reflect.TypeFor[[][]string]():
		return "a list of argv lists (e.g. [[systemctl, restart, cadvisor]])"
	}
	switch t.Kind() {
	case reflect.Int:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list of strings"
	default:
		return "a string"
	}
}

// expandHome replaces a leading "~/" in every file path with $HOME.
func (c *Config) expandHome() {
	for _, p := range []*string{&c.Temporal.APIKeyFile, &c.Temporal.TLS.CAFile, &c.Temporal.TLS.CertFile,
		&c.Temporal.TLS.KeyFile, &c.SSH.KeyPassphraseFile, &c.Node.ReplacementKubelet.Path, &c.Worker.HelperBinDir, &c.Kubernetes.Kubeconfig} {
		*p = ExpandHome(*p)
	}
	for i := range c.SSH.KeyFiles {
		c.SSH.KeyFiles[i] = ExpandHome(c.SSH.KeyFiles[i])
	}
	for i := range c.SSH.KnownHosts {
		c.SSH.KnownHosts[i] = ExpandHome(c.SSH.KnownHosts[i])
	}
}

// ExpandHome replaces a leading "~/" with the user's home directory.
func ExpandHome(p string) string {
	if !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return home + p[1:]
}
