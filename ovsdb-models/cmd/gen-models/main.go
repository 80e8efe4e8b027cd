// Command gen-models regenerates the libovsdb models under ovsdb-models from
// the pinned schemas. Run it through `make models`.
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"

	ovsdbmodels "github.com/ovnkube/ovnkube/ovsdb-models"
)

func main() {
	root := flag.String("root", "ovsdb-models", "the ovsdb-models directory")
	flag.Parse()
	for _, db := range ovsdbmodels.Databases {
		files, err := ovsdbmodels.Render(*root, db)
		if err != nil {
			log.Fatal(err)
		}
		dir := filepath.Join(*root, db.Package)
		if err := os.RemoveAll(dir); err != nil {
			log.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Fatal(err)
		}
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
				log.Fatal(err)
			}
		}
		log.Printf("generated %d files for %s into %s", len(files), db.Schema, dir)
	}
}
