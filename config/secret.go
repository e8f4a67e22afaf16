package config

import "log/slog"

// Mask is what a set secret prints as.
const Mask = "********"

// Secret is a string that never prints: fmt, slog, JSON and YAML all see
// Mask (or "" when unset). Call Reveal where the value is really needed.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String masks the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Mask
}

// GoString masks the value for %#v.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// LogValue masks the value in slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText masks the value in JSON, YAML and anything else that encodes text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
