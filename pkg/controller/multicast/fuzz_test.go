package multicast

import "testing"

// FuzzParseEnabled feeds arbitrary k8s.ovn.org/multicast-enabled values to
// ParseEnabled. As documented, it is on for "true" only, off without an
// error for "false", and off with an error for anything else: it never
// returns true together with an error. Seeds are TestParseEnabled's values.
// `make fuzz` runs the target; `go test` runs the seeds only.
func FuzzParseEnabled(f *testing.F) {
	for _, s := range []string{"true", "false", "yes", "", "True", "1", " true", "true\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		on, err := ParseEnabled(map[string]string{Annotation: v})
		if err != nil && on {
			t.Fatalf("ParseEnabled(%q) = true with error %v", v, err)
		}
		if on != (v == "true") {
			t.Fatalf("ParseEnabled(%q) = %v, want on for \"true\" only", v, on)
		}
		if (err == nil) != (v == "true" || v == "false") {
			t.Fatalf("ParseEnabled(%q) error = %v, want one for anything but \"true\" and \"false\"", v, err)
		}
		if on, err := ParseEnabled(map[string]string{"k8s.ovn.org/other": v}); on || err != nil {
			t.Fatalf("ParseEnabled without the annotation = %v, %v; want off without an error", on, err)
		}
	})
}
