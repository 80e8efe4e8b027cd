// Package memnb serves the OVN Northbound schema from libovsdb's in-memory
// OVSDB server, for unit tests that need real OVSDB semantics (transactions,
// indexes, references, garbage collection, monitor updates) but not
// ovsdb-server.
package memnb

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"
	"github.com/ovn-kubernetes/libovsdb/server"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
)

// Start serves an empty NB on a unix socket until the test ends and returns
// its endpoint ("unix:/tmp/..."). An empty _Server database is served too:
// ovnkube's client asks it whether the server is the leader, and a database
// without a row there counts as standalone.
func Start(t testing.TB) string {
	t.Helper()
	nb, err := nbdb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	sdb, err := serverdb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	logger := logr.Discard()
	db := inmemory.NewDatabase(map[string]model.ClientDBModel{nb.Name(): nb, sdb.Name(): sdb}, &logger)
	nbModel, errs := model.NewDatabaseModel(nbdb.Schema(), nb)
	if len(errs) > 0 {
		t.Fatalf("NB model: %v", errs)
	}
	sModel, errs := model.NewDatabaseModel(serverdb.Schema(), sdb)
	if len(errs) > 0 {
		t.Fatalf("_Server model: %v", errs)
	}
	srv, err := server.NewOvsdbServer(db, &logger, nbModel, sModel)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("/tmp", "memnb-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "nb.sock")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve("unix", sock) }()
	t.Cleanup(func() {
		srv.Close()
		_ = os.RemoveAll(dir)
	})
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Ready() {
		select {
		case err := <-errc:
			t.Fatalf("in-memory NB: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("in-memory NB not ready after 5s")
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Sprintf("unix:%s", sock)
}
