package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The pflag.Value implementations below write straight into Config fields.
// pflag's own constructors allocate their storage, but we need values that
// can be bound to an existing Config both for flags and for the config
// file, and list values that parse into typed slices.

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Type() string       { return "string" }

type float32Value float32

func (v *float32Value) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*v = float32Value(f)
	return nil
}
func (v *float32Value) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 32) }
func (v *float32Value) Type() string   { return "float32" }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) Type() string     { return "bool" }
func (v *boolValue) IsBoolFlag() bool { return true }

type intValue int

func (v *intValue) Set(s string) error {
	i, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	*v = intValue(i)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Type() string   { return "int" }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 15s)", s)
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Type() string   { return "duration" }

// listValue is a comma-separated list flag that behaves like pflag's
// StringSlice: the first use replaces the default, repeated uses append.
// It also implements pflag.SliceValue, which the config file uses to set
// a YAML list without joining and re-splitting it.
type listValue[T fmt.Stringer] struct {
	list    *[]T
	parse   func(...string) ([]T, error)
	changed bool
}

func (v *listValue[T]) Set(s string) error {
	parsed, err := v.parse(s)
	if err != nil {
		return err
	}
	if v.changed {
		*v.list = append(*v.list, parsed...)
	} else {
		*v.list = parsed
	}
	v.changed = true
	return nil
}

func (v *listValue[T]) Replace(values []string) error {
	parsed, err := v.parse(values...)
	if err != nil {
		return err
	}
	*v.list = parsed
	v.changed = true
	return nil
}

func (v *listValue[T]) Append(s string) error {
	parsed, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.list = append(*v.list, parsed...)
	v.changed = true
	return nil
}

func (v *listValue[T]) GetSlice() []string {
	out := make([]string, len(*v.list))
	for i, e := range *v.list {
		out[i] = e.String()
	}
	return out
}

// String uses pflag's StringSlice notation, "[a,b]", so --help looks the
// same as for any other list flag.
func (v *listValue[T]) String() string { return "[" + strings.Join(v.GetSlice(), ",") + "]" }

// Type is "stringSlice" so that --help shows "strings", like pflag.
func (v *listValue[T]) Type() string { return "stringSlice" }
