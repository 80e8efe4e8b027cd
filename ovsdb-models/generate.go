// Package ovsdbmodels pins the OVSDB schemas ovnkube is built against (OVN NB
// 7.0.0, OVN SB 20.27.0, Open_vSwitch 8.3.1) and renders libovsdb models from
// them. The rendered models live in the nbdb, sbdb and vswitch sub-packages and
// are committed; models_test.go fails when they drift from the schema files.
package ovsdbmodels

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ovn-kubernetes/libovsdb/modelgen"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// Database names one pinned schema and the Go package generated from it.
type Database struct {
	Schema  string // file under schema/
	Package string // Go package name, also its directory
}

// Databases is every schema ovnkube talks to.
var Databases = []Database{
	{Schema: "ovn-nb.ovsschema", Package: "nbdb"},
	{Schema: "ovn-sb.ovsschema", Package: "sbdb"},
	{Schema: "vswitch.ovsschema", Package: "vswitch"},
}

// Render returns the generated Go sources for db, keyed by file name. root is
// the ovsdb-models directory. Extended generation is on: the reconciler relies
// on the generated Equals and DeepCopy methods.
func Render(root string, db Database) (map[string][]byte, error) {
	raw, err := os.ReadFile(filepath.Join(root, "schema", db.Schema))
	if err != nil {
		return nil, fmt.Errorf("read schema %s: %w", db.Schema, err)
	}
	var schema ovsdb.DatabaseSchema
	if err := json.Unmarshal(raw, &schema); err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", db.Schema, err)
	}
	gen, err := modelgen.NewGenerator()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	names := make([]string, 0, len(schema.Tables))
	for name := range schema.Tables {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		table := schema.Tables[name]
		args := modelgen.GetTableTemplateData(db.Package, name, &table)
		args.WithExtendedGen(true)
		src, err := gen.Format(modelgen.NewTableTemplate(), args)
		if err != nil {
			return nil, fmt.Errorf("render table %s of %s: %w", name, db.Schema, err)
		}
		out[modelgen.FileName(name)] = src
	}
	src, err := gen.Format(modelgen.NewDBTemplate(), modelgen.GetDBTemplateData(db.Package, schema))
	if err != nil {
		return nil, fmt.Errorf("render model of %s: %w", db.Schema, err)
	}
	out["model.go"] = src
	return out, nil
}
