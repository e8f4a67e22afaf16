package config

import (
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/agnivade/levenshtein"
)

// field is one leaf setting: its dotted key as written in the file
// ("temporal.taskQueue") and its Go type.
type field struct {
	Key   string
	Type  reflect.Type
	Index []int // for reflect.Value.FieldByIndex on a Config
}

// fields lists every leaf setting of Config, in declaration order.
func fields() []field {
	var out []field
	walk(reflect.TypeFor[Config](), "", nil, func(key string, t reflect.Type, index []int) {
		out = append(out, field{Key: key, Type: t, Index: index})
	})
	return out
}

// sections lists every key that holds a mapping ("temporal", "temporal.tls").
func sections() []string {
	var out []string
	var rec func(t reflect.Type, prefix string)
	rec = func(t reflect.Type, prefix string) {
		for sf := range t.Fields() {
			key := join(prefix, sf.Tag.Get("mapstructure"))
			if isSection(sf.Type) {
				out = append(out, key)
				rec(sf.Type, key)
			}
		}
	}
	rec(reflect.TypeFor[Config](), "")
	return out
}

func walk(t reflect.Type, prefix string, index []int, visit func(key string, t reflect.Type, index []int)) {
	for sf := range t.Fields() {
		key := join(prefix, sf.Tag.Get("mapstructure"))
		idx := append(append([]int(nil), index...), sf.Index...)
		if isSection(sf.Type) {
			walk(sf.Type, key, idx, visit)
			continue
		}
		visit(key, sf.Type, idx)
	}
}

func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Duration]()
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// EnvNames returns the environment variables that set key, the preferred
// one first: KMEMFIX_TEMPORAL_TASKQUEUE and KMEMFIX_TEMPORAL_TASK_QUEUE.
func EnvNames(key string) []string {
	parts := strings.Split(key, ".")
	flat := make([]string, len(parts))
	snake := make([]string, len(parts))
	for i, p := range parts {
		flat[i] = strings.ToUpper(p)
		snake[i] = strings.ToUpper(words(p, "_"))
	}
	a := EnvPrefix + strings.Join(flat, "_")
	b := EnvPrefix + strings.Join(snake, "_")
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// EnvPrefix starts every environment variable kmemfix reads.
const EnvPrefix = "KMEMFIX_"

// FlagName is the command-line flag that sets key: "temporal.taskQueue"
// is --temporal-task-queue.
func FlagName(key string) string {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		parts[i] = words(p, "-")
	}
	return strings.ToLower(strings.Join(parts, "-"))
}

// words splits a camelCase name at its humps: "otlpEndpoint" -> "otlp<sep>Endpoint",
// "sha256" stays whole, "caFile" -> "ca<sep>File".
func words(s, sep string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
			(i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// suggest returns the known key closest to an unknown one, or "" when none
// is close enough to be a plausible typo.
func suggest(unknown string, known []string) string {
	best, bestDist := "", 1<<30
	u := strings.ToLower(unknown)
	// A truncated name ("sha" for "sha256") is a prefix of its setting.
	if i := strings.LastIndex(u, "."); len(u)-i > 3 {
		for _, k := range known {
			lk := strings.ToLower(k)
			if strings.HasPrefix(lk, u) && !strings.Contains(lk[len(u):], ".") {
				return k
			}
		}
	}
	for _, k := range known {
		d := levenshtein.ComputeDistance(u, strings.ToLower(k))
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	// Allow about one typo per four characters of the last segment.
	last := u[strings.LastIndex(u, ".")+1:]
	if bestDist > max(2, len(last)/3) {
		return ""
	}
	return best
}

// knownKeys returns every leaf and section key, sorted.
func knownKeys() []string {
	var out []string
	for _, f := range fields() {
		out = append(out, f.Key)
	}
	out = append(out, sections()...)
	sort.Strings(out)
	return out
}
