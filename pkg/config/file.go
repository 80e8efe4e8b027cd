package config

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// applyFile reads the YAML or JSON file at path and applies every key that
// is not in skip (the flags set on the command line) to c. Keys are flag
// names, so the file needs no schema of its own; unknown keys are errors
// because a silently ignored typo ("cluster-subnet") would leave a default
// in place. It returns the keys it applied.
//
// Keys of command-specific settings (the node agent's --cni-socket, say)
// are applied through fs when the running command registered them, and
// skipped otherwise, so master and node can share one file.
//
// Values may be strings, numbers, or, for list options, a YAML list or a
// comma-separated string.
func applyFile(c *Config, fs *pflag.FlagSet, path string, skip map[string]bool) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --%s file: %w", flagConfig, err)
	}
	var doc any
	// UnmarshalStrict rejects duplicate keys. JSON is valid YAML, so one
	// decoder handles both formats whatever the file is called.
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("config file %q: %w", path, err)
	}
	raw, ok := doc.(map[string]any)
	if !ok && doc != nil {
		return nil, fmt.Errorf("config file %q: got %s, want a mapping of flag names to values", path, describe(doc))
	}

	// Apply in sorted key order so that the first error is deterministic.
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	applied := map[string]bool{}
	for _, key := range keys {
		o, ok := lookupOption(key)
		if !ok && isNodeFlag(key) {
			if skip[key] {
				continue
			}
			if fs == nil || fs.Lookup(key) == nil {
				continue // a node setting read by the master: not its concern
			}
			if err := setFromFile(option{name: key}, fs.Lookup(key).Value, raw[key]); err != nil {
				return nil, fmt.Errorf("config file %q: --%s: %w", path, key, err)
			}
			applied[key] = true
			continue
		}
		switch {
		case !ok:
			return nil, fmt.Errorf("config file %q: unknown key %q (keys are flag names without the leading --)", path, key)
		case key == flagConfig:
			return nil, fmt.Errorf("config file %q: key %q is only valid as a flag", path, key)
		case skip[key]:
			continue // an explicitly set flag wins over the file
		}
		if err := setFromFile(o, o.bind(c), raw[key]); err != nil {
			return nil, fmt.Errorf("config file %q: --%s: %w", path, key, err)
		}
		applied[key] = true
	}
	return applied, nil
}

// setFromFile stores one decoded YAML/JSON value through the option's
// pflag.Value, so file values go through exactly the parsing flags do.
func setFromFile(o option, v pflag.Value, raw any) error {
	switch x := raw.(type) {
	case nil:
		return fmt.Errorf("no value given")
	case string:
		return v.Set(x)
	case bool:
		// Only for on/off settings: a YAML `true` given to a name or an
		// address is a mistake, not the string "true".
		if v.Type() != "bool" {
			return fmt.Errorf("got a boolean, want a string or a number")
		}
		return v.Set(strconv.FormatBool(x))
	case float64:
		// JSON numbers decode as float64; format without exponent or
		// trailing zeros so integers stay integers.
		return v.Set(strconv.FormatFloat(x, 'f', -1, 64))
	case []any:
		items := make([]string, len(x))
		for i, item := range x {
			s, ok := item.(string)
			if !ok {
				return fmt.Errorf("list entry %d is %s, want a string", i, describe(item))
			}
			items[i] = s
		}
		if sv, ok := v.(pflag.SliceValue); ok {
			return sv.Replace(items)
		}
		if o.fileList {
			return v.Set(strings.Join(items, ","))
		}
		return fmt.Errorf("got a list, want a single value")
	default:
		return fmt.Errorf("got %s, want a string or a number", describe(raw))
	}
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
