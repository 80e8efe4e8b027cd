package ovsdbmodels

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestModelsMatchSchemas fails when a pinned schema changed without `make models`,
// or when someone edited generated code by hand.
func TestModelsMatchSchemas(t *testing.T) {
	for _, db := range Databases {
		t.Run(db.Package, func(t *testing.T) {
			want, err := Render(".", db)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(db.Package)
			if err != nil {
				t.Fatalf("read %s: %v (run `make models`)", db.Package, err)
			}
			var have []string
			for _, e := range entries {
				have = append(have, e.Name())
			}
			var wantNames []string
			for name := range want {
				wantNames = append(wantNames, name)
			}
			sort.Strings(wantNames)
			if len(have) != len(wantNames) {
				t.Errorf("%s has files %v, schema %s gives %v; run `make models`", db.Package, have, db.Schema, wantNames)
			}
			for _, name := range wantNames {
				got, err := os.ReadFile(filepath.Join(db.Package, name))
				if err != nil {
					t.Errorf("%s/%s missing: run `make models`", db.Package, name)
					continue
				}
				if !bytes.Equal(got, want[name]) {
					t.Errorf("%s/%s differs from what %s generates: run `make models`", db.Package, name, db.Schema)
				}
			}
		})
	}
}
