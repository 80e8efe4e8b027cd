package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// PidFile records processes, one JSON ProcessRecord per line, so that a later
// program can find and stop them (the sandbox's `down` after a detached `up`).
// Records are appended as processes start, so a crash half-way through
// start-up still leaves a complete list of what has to be stopped.
type PidFile struct {
	Path string
	mu   sync.Mutex
}

// Add appends p's record and syncs the file.
func (f *PidFile) Add(p *Process) error { return f.AddRecord(p.Record()) }

// AddRecord appends r and syncs the file.
func (f *PidFile) AddRecord(r ProcessRecord) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	file, err := os.OpenFile(f.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := file.Write(append(line, '\n')); err != nil {
		file.Close()
		return err
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// Records reads the file; a missing file is no records and no error.
func (f *PidFile) Records() ([]ProcessRecord, error) {
	file, err := os.Open(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var recs []ProcessRecord
	sc := bufio.NewScanner(file)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r ProcessRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return recs, fmt.Errorf("%s:%d: %w", f.Path, n, err)
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

// Running adopts every recorded process and returns those still running
// (same pid and same start time as recorded), in record order.
func (f *PidFile) Running() ([]*Process, error) {
	recs, err := f.Records()
	var procs []*Process
	for _, r := range recs {
		if p := AdoptProcess(r); p.Running() {
			procs = append(procs, p)
		}
	}
	return procs, err
}
