package config

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseClusterSubnet(t *testing.T) {
	tests := []struct {
		in      string
		want    ClusterSubnet
		wantErr string // substring; empty means success
	}{
		{in: "10.244.0.0/16/24", want: ClusterSubnet{netip.MustParsePrefix("10.244.0.0/16"), 24}},
		{in: " 10.128.0.0/14/23 ", want: ClusterSubnet{netip.MustParsePrefix("10.128.0.0/14"), 23}},
		{in: "fd00:10:244::/48/64", want: ClusterSubnet{netip.MustParsePrefix("fd00:10:244::/48"), 64}},
		{in: "10.0.0.0/8/29", want: ClusterSubnet{netip.MustParsePrefix("10.0.0.0/8"), 29}},
		{in: "fd00::/8/126", want: ClusterSubnet{netip.MustParsePrefix("fd00::/8"), 126}},

		{in: "10.244.0.0/16", wantErr: "missing host prefix"},
		{in: "10.244.0.0", wantErr: "missing host prefix"},
		{in: "", wantErr: "missing host prefix"},
		{in: "10.244.0.0/33/24", wantErr: "prefix length out of range"},
		{in: "10.244.1.0/16/24", wantErr: "host bits are set (did you mean 10.244.0.0/16?)"},
		{in: "10.244.0.0/16/16", wantErr: "host prefix /16 must be longer than the CIDR prefix /16"},
		{in: "10.244.0.0/16/8", wantErr: "must be longer"},
		{in: "10.0.0.0/8/33", wantErr: "host prefix /33 is longer than an IPv4 address"},
		{in: "10.0.0.0/8/32", wantErr: "host prefix /32 leaves a node no pod address"},
		{in: "10.0.0.0/8/31", wantErr: "host prefix /31 leaves a node no pod address"},
		{in: "10.0.0.0/8/30", wantErr: "use /29 or shorter"},
		{in: "fd00::/48/128", wantErr: "host prefix /128 leaves a node no pod address"},
		{in: "fd00::/48/127", wantErr: "use /126 or shorter"},
		{in: "fd00::/48/129", wantErr: "host prefix /129 is longer than an IPv6 address"},
		{in: "10.244.0.0/16/x", wantErr: `host prefix "x" is not a number`},
		{in: "10.244.0.0/16/+24", wantErr: "not a number"},
		{in: "10.244.0.0/16/024", wantErr: "not a number"},
		{in: "10.244.0.0//24", wantErr: "invalid cluster subnet"},
		{in: "::ffff:10.0.0.0/104/120", wantErr: "IPv4-mapped"},
		{in: "banana/16/24", wantErr: "invalid cluster subnet \"banana/16/24\""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseClusterSubnet(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseClusterSubnet(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q does not quote the input", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseClusterSubnet(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseClusterSubnet(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestClusterSubnetStringRoundTrip(t *testing.T) {
	for _, in := range []string{
		"10.244.0.0/16/24",
		"10.128.0.0/14/23",
		"0.0.0.0/0/1",
		"fd00:10:244::/48/64",
		"fd00::/8/126",
	} {
		t.Run(in, func(t *testing.T) {
			cs, err := ParseClusterSubnet(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := cs.String(); got != in {
				t.Errorf("String() = %q, want %q", got, in)
			}
			again, err := ParseClusterSubnet(cs.String())
			if err != nil || again != cs {
				t.Errorf("ParseClusterSubnet(String()) = %+v, %v; want %+v", again, err, cs)
			}

			// The text marshalers use the same notation, so a Config can
			// be dumped and reloaded as JSON.
			b, err := json.Marshal(cs)
			if err != nil {
				t.Fatal(err)
			}
			if want := `"` + in + `"`; string(b) != want {
				t.Errorf("json.Marshal = %s, want %s", b, want)
			}
			var back ClusterSubnet
			if err := json.Unmarshal(b, &back); err != nil || back != cs {
				t.Errorf("json.Unmarshal = %+v, %v; want %+v", back, err, cs)
			}
		})
	}
}

func TestParseClusterSubnets(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{name: "single", in: []string{"10.244.0.0/16/24"}, want: []string{"10.244.0.0/16/24"}},
		{name: "comma-separated", in: []string{"10.244.0.0/16/24,fd00:10:244::/48/64"}, want: []string{"10.244.0.0/16/24", "fd00:10:244::/48/64"}},
		{name: "slice", in: []string{"10.244.0.0/16/24", "fd00:10:244::/48/64"}, want: []string{"10.244.0.0/16/24", "fd00:10:244::/48/64"}},
		{name: "blanks and empty entries", in: []string{" 10.244.0.0/16/24 , ,10.245.0.0/16/24,"}, want: []string{"10.244.0.0/16/24", "10.245.0.0/16/24"}},
		{name: "empty", in: []string{""}, want: nil},
		{name: "none", in: nil, want: nil},
		{name: "first bad entry reported", in: []string{"10.244.0.0/16/24,10.245.0.0/16,10.246.0.0/33/24"}, wantErr: `"10.245.0.0/16"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseClusterSubnets(tt.in...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotS []string
			for _, cs := range got {
				gotS = append(gotS, cs.String())
			}
			if !slices.Equal(gotS, tt.want) {
				t.Errorf("got %q, want %q", gotS, tt.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{name: "v4", in: []string{"10.96.0.0/16"}, want: []string{"10.96.0.0/16"}},
		{name: "dual-stack", in: []string{"10.96.0.0/16, fd00:10:96::/112"}, want: []string{"10.96.0.0/16", "fd00:10:96::/112"}},
		{name: "slice", in: []string{"10.96.0.0/16", "fd00:10:96::/112"}, want: []string{"10.96.0.0/16", "fd00:10:96::/112"}},
		{name: "empty", in: []string{""}, want: nil},
		{name: "host bits", in: []string{"10.96.1.0/16"}, wantErr: `invalid CIDR "10.96.1.0/16": host bits are set (did you mean 10.96.0.0/16?)`},
		{name: "no length", in: []string{"10.96.0.0"}, wantErr: `invalid CIDR "10.96.0.0": missing prefix length`},
		{name: "out of range", in: []string{"10.96.0.0/33"}, wantErr: `invalid CIDR "10.96.0.0/33": prefix length out of range`},
		{name: "garbage", in: []string{"x/16"}, wantErr: `invalid CIDR "x/16"`},
		{name: "cluster subnet notation", in: []string{"10.96.0.0/16/24"}, wantErr: `invalid CIDR "10.96.0.0/16/24"`},
		{name: "IPv4-mapped", in: []string{"::ffff:10.0.0.0/104"}, wantErr: "IPv4-mapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrefixes(tt.in...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotS []string
			for _, p := range got {
				gotS = append(gotS, p.String())
			}
			if !slices.Equal(gotS, tt.want) {
				t.Errorf("got %q, want %q", gotS, tt.want)
			}
		})
	}
}
