package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestNodePortRange: the master refuses a --nodeport-range that is not a
// valid FIRST-LAST, naming the value.
func TestNodePortRange(t *testing.T) {
	for _, tt := range []struct {
		value, want, err string
	}{
		{value: "30000-32767", want: "30000-32767"},
		{value: "80-80", want: "80-80"},
		{value: "30000", err: `"30000" is not FIRST-LAST`},
		{value: "32767-30000", err: "1 <= FIRST <= LAST <= 65535"},
		{value: "0-100", err: "1 <= FIRST <= LAST <= 65535"},
		{value: "30000-70000", err: "1 <= FIRST <= LAST <= 65535"},
		{value: "a-b", err: "is not FIRST-LAST with"},
	} {
		t.Run(tt.value, func(t *testing.T) {
			c := Defaults()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			AddFlags(fs, c)
			err := fs.Parse([]string{"--nodeport-range=" + tt.value})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "nodeport-range") {
					t.Fatalf("err = %v, want one naming --nodeport-range and %q", err, tt.err)
				}
				return
			}
			if err != nil || c.NodePortRange.String() != tt.want {
				t.Fatalf("range = %s, %v", c.NodePortRange, err)
			}
		})
	}
	if !DefaultNodePortRange.Contains(30000) || !DefaultNodePortRange.Contains(32767) || DefaultNodePortRange.Contains(32768) {
		t.Error("default range bounds")
	}
}
