package config

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Masked returns a copy whose secrets read as Mask even through Reveal:
// safe to print, log or hand to anything.
func (c Config) Masked() Config {
	m := c
	m.SSH.KeyFiles = append([]string(nil), c.SSH.KeyFiles...)
	m.SSH.KnownHosts = append([]string(nil), c.SSH.KnownHosts...)
	m.Rollout.Waves = append([]string(nil), c.Rollout.Waves...)
	m.Temporal.APIKey = Secret(c.Temporal.APIKey.String())
	m.SSH.KeyPassphrase = Secret(c.SSH.KeyPassphrase.String())
	return m
}

// YAML renders the configuration as a config file would hold it (keys in
// declaration order, durations like "5m0s"), secrets masked. Loading the
// output gives the same configuration, except for the masked secrets.
func (c Config) YAML() ([]byte, error) {
	n := toNode(reflect.ValueOf(c.Masked()))
	return yaml.Marshal(n)
}

func toNode(v reflect.Value) *yaml.Node {
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		return scalar(v.Interface().(time.Duration).String(), "!!str")
	case v.Type() == reflect.TypeFor[Secret]():
		return scalar(v.Interface().(Secret).String(), "!!str")
	}
	switch v.Kind() {
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := range v.NumField() {
			name := v.Type().Field(i).Tag.Get("mapstructure")
			n.Content = append(n.Content, scalar(name, "!!str"), toNode(v.Field(i)))
		}
		return n
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		if v.Type().Elem().Kind() == reflect.String {
			n.Style = yaml.FlowStyle
		}
		for i := range v.Len() {
			n.Content = append(n.Content, toNode(v.Index(i)))
		}
		return n
	case reflect.String:
		return scalar(v.String(), "!!str")
	case reflect.Bool:
		return scalar(strconv.FormatBool(v.Bool()), "")
	case reflect.Int:
		return scalar(strconv.FormatInt(v.Int(), 10), "")
	case reflect.Float64:
		return scalar(strconv.FormatFloat(v.Float(), 'g', -1, 64), "")
	default:
		return scalar(fmt.Sprint(v.Interface()), "!!str")
	}
}

func scalar(value, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: value, Tag: tag}
}
