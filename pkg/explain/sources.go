package explain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/ovnkube/ovnkube/ovsdb-models/nbdb"
	"github.com/ovnkube/ovnkube/ovsdb-models/sbdb"
	"github.com/ovnkube/ovnkube/pkg/config"
	"github.com/ovnkube/ovnkube/pkg/controller/networkpolicy"
	"github.com/ovnkube/ovnkube/pkg/kube"
	"github.com/ovnkube/ovnkube/pkg/ovsdbclient"
	"github.com/ovnkube/ovnkube/pkg/reconcile"
	"github.com/ovnkube/ovnkube/pkg/topology"
)

// Sources are what explain reads: the API server, the NB and the SB. The
// databases are read with select transactions only, never monitored: an
// explanation costs the rows it shows, not a copy of the NB, and never
// writes.
type Sources struct {
	Kube   kubernetes.Interface
	NB, SB database
	// SBEndpoints and SBTLS are handed to ovn-trace.
	SBEndpoints []string
	SBTLS       config.TLS
	// OVNTrace is the ovn-trace binary ("ovn-trace": from PATH).
	OVNTrace string
}

// database is one OVSDB connection and the model its rows decode into.
type database struct {
	c     client.Client
	model model.DatabaseModel
}

// Connect opens the API client and both databases as cfg (the master's
// flags and config file) describes them, waiting at most timeout for each
// database.
func Connect(ctx context.Context, cfg *config.Config, timeout time.Duration) (*Sources, error) {
	kc, err := kube.NewClient(cfg.Kubeconfig, cfg.KubeAPIQPS, cfg.KubeAPIBurst)
	if err != nil {
		return nil, err
	}
	s := &Sources{Kube: kc, SBEndpoints: cfg.SBEndpoints(), SBTLS: cfg.SBTLS, OVNTrace: "ovn-trace"}
	if s.NB, err = open(ctx, cfg.NBEndpoints(), cfg.NBTLS, nbdb.FullDatabaseModel, timeout); err != nil {
		return nil, err
	}
	if s.SB, err = open(ctx, cfg.SBEndpoints(), cfg.SBTLS, sbdb.FullDatabaseModel, timeout); err != nil {
		s.NB.c.Close()
		return nil, err
	}
	return s, nil
}

func open(ctx context.Context, endpoints []string, tls config.TLS, full func() (model.ClientDBModel, error), timeout time.Duration) (database, error) {
	m, err := full()
	if err != nil {
		return database{}, err
	}
	c, err := ovsdbclient.Connect(ctx, ovsdbclient.Options{Endpoints: endpoints, TLS: tls, Model: m, Timeout: timeout})
	if err != nil {
		return database{}, err
	}
	dbModel, errs := model.NewDatabaseModel(c.Schema(), m)
	if len(errs) > 0 {
		c.Close()
		return database{}, fmt.Errorf("%s model against the server's schema: %w", m.Name(), errors.Join(errs...))
	}
	return database{c: c, model: dbModel}, nil
}

// Close closes both databases.
func (s *Sources) Close() {
	s.NB.c.Close()
	s.SB.c.Close()
}

// Explain reads what an explanation of owner needs and builds it.
func (s *Sources) Explain(ctx context.Context, owner reconcile.Owner) (Report, error) {
	in, err := s.objects(ctx, owner)
	if err != nil {
		return Report{}, fmt.Errorf("read %s from the API server: %w", owner, err)
	}
	q := Plan(owner, in.Object, in.Node)
	if in.NB, err = s.NB.read(ctx, ownedSelects(s.NB, owner), q.NB); err != nil {
		return Report{}, fmt.Errorf("read the NB rows of %s: %w", owner, err)
	}
	if in.SB, err = s.readSB(ctx, q.SB); err != nil {
		return Report{}, fmt.Errorf("read the SB rows of %s: %w", owner, err)
	}
	return Explain(in), nil
}

// objects reads the owner's Kubernetes object and, for a pod, its node.
// A found object is assigned to Input.Object only when non-nil, so a
// missing one is a nil interface, never a typed nil.
func (s *Sources) objects(ctx context.Context, owner reconcile.Owner) (Input, error) {
	in := Input{Owner: owner}
	ns, name := splitKey(owner.Name)
	switch owner.Type {
	case topology.OwnerTypePod:
		p, err := get(s.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}))
		if err != nil || p == nil {
			return in, err
		}
		in.Object = p
		if p.Spec.NodeName != "" {
			in.Node, err = get(s.Kube.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{}))
		}
		return in, err
	case topology.OwnerTypeNode:
		n, err := get(s.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}))
		if n != nil {
			in.Object, in.Node = n, n
		}
		return in, err
	case topology.OwnerTypeService:
		svc, err := get(s.Kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}))
		if svc != nil {
			in.Object = svc
		}
		return in, err
	case networkpolicy.OwnerTypePolicy:
		np, err := get(s.Kube.NetworkingV1().NetworkPolicies(ns).Get(ctx, name, metav1.GetOptions{}))
		if np != nil {
			in.Object = np
		}
		return in, err
	}
	return in, nil
}

// get unwraps a Get: nil without error when the object does not exist.
func get[T any](obj *T, err error) (*T, error) {
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// ownedSelects finds an owner's rows by their tags, in every table of the
// database that has external_ids (tables without them hold no owned row
// one can find: Load_Balancer_Group, Static_MAC_Binding).
func ownedSelects(db database, owner reconcile.Owner) []ovsdb.Operation {
	tags := ovsdb.OvsMap{GoMap: map[any]any{
		reconcile.OwnerControllerKey: reconcile.DefaultController,
		reconcile.OwnerTypeKey:       owner.Type,
		reconcile.OwnerKey:           owner.Name,
	}}
	var ops []ovsdb.Operation
	for table, ts := range db.model.Schema.Tables {
		if _, ok := ts.Columns["external_ids"]; !ok {
			continue
		}
		if _, ok := db.model.Types()[table]; !ok {
			continue
		}
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: table,
			Where: []ovsdb.Condition{ovsdb.NewCondition("external_ids", ovsdb.ConditionIncludes, tags)}})
	}
	return ops
}

// read runs the selects and lookups in one transaction, so the rows are one
// consistent snapshot, and decodes them; a row found twice is kept once.
func (db database) read(ctx context.Context, ops []ovsdb.Operation, lookups []Lookup) ([]model.Model, error) {
	for _, l := range lookups {
		var v any = l.Value
		if l.Column == "_uuid" {
			v = ovsdb.UUID{GoUUID: l.Value}
		}
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: l.Table,
			Where: []ovsdb.Condition{ovsdb.NewCondition(l.Column, ovsdb.ConditionEqual, v)}})
	}
	if len(ops) == 0 {
		return nil, nil
	}
	results, err := db.c.Transact(ctx, ops...)
	if err != nil {
		return nil, fmt.Errorf("select transaction: %w", err)
	}
	seen := map[string]bool{}
	var out []model.Model
	for i, res := range results {
		if i >= len(ops) {
			break
		}
		if res.Error != "" {
			return nil, fmt.Errorf("select from %s: %s: %s", ops[i].Table, res.Error, res.Details)
		}
		for _, row := range res.Rows {
			uuid, _ := row["_uuid"].(ovsdb.UUID)
			if seen[uuid.GoUUID] {
				continue
			}
			seen[uuid.GoUUID] = true
			m, err := model.CreateModel(db.model, ops[i].Table, &row, uuid.GoUUID)
			if err != nil {
				return nil, fmt.Errorf("decode a %s row: %w", ops[i].Table, err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// readSB reads the lookups and then the chassis the bindings found point
// at that the lookups did not bring (a port claimed on another chassis).
func (s *Sources) readSB(ctx context.Context, lookups []Lookup) ([]model.Model, error) {
	rows, err := s.SB.read(ctx, nil, lookups)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, m := range rows {
		if c, ok := m.(*sbdb.Chassis); ok {
			have[c.UUID] = true
		}
	}
	var more []Lookup
	for _, m := range rows {
		if pb, ok := m.(*sbdb.PortBinding); ok && pb.Chassis != nil && !have[*pb.Chassis] {
			have[*pb.Chassis] = true
			more = append(more, Lookup{Table: sbdb.ChassisTable, Column: "_uuid", Value: *pb.Chassis})
		}
	}
	extra, err := s.SB.read(ctx, nil, more)
	if err != nil {
		return nil, err
	}
	return append(rows, extra...), nil
}

// Trace runs ovn-trace for the first packet from the source pod (key
// "namespace/name") to dest and names where it ended.
func (s *Sources) Trace(ctx context.Context, source string, dest Dest) (TraceReport, error) {
	ns, name := splitKey(source)
	src, err := get(s.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}))
	if err != nil {
		return TraceReport{}, fmt.Errorf("read pod %s: %w", source, err)
	}
	if src == nil {
		return TraceReport{}, fmt.Errorf("pod %s does not exist", source)
	}
	in := TraceInput{Source: src, Dest: dest}
	if dest.Pod != "" {
		dns, dname := splitKey(dest.Pod)
		if in.DestPod, err = get(s.Kube.CoreV1().Pods(dns).Get(ctx, dname, metav1.GetOptions{})); err != nil {
			return TraceReport{}, fmt.Errorf("read pod %s: %w", dest.Pod, err)
		}
	}
	if src.Spec.NodeName != "" {
		if in.NB, err = s.NB.read(ctx, nil, PlanTrace(src)); err != nil {
			return TraceReport{}, fmt.Errorf("read the gateway port of %s: %w", source, err)
		}
	}
	rep, err := PrepareTrace(in)
	if err != nil {
		return TraceReport{}, err
	}
	args := TraceArgs(s.SBEndpoints, s.SBTLS, rep.Datapath, rep.Microflow)
	rep.Command = append([]string{s.OVNTrace}, args...)
	out, err := s.runTrace(ctx, args)
	if err != nil {
		return TraceReport{}, err
	}
	res, err := ParseTrace(out)
	if err != nil {
		return TraceReport{}, err
	}
	named, err := s.NB.read(ctx, nil, VerdictLookups(res))
	if err != nil {
		return TraceReport{}, fmt.Errorf("read the rows that name the verdicts: %w", err)
	}
	return Conclude(rep, res, named), nil
}

func (s *Sources) runTrace(ctx context.Context, args []string) (string, error) {
	bin, err := exec.LookPath(s.OVNTrace)
	if err != nil {
		return "", fmt.Errorf("%s not found (Debian package ovn-common): %w", s.OVNTrace, err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	klog.V(2).InfoS("Running ovn-trace", "args", args)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", bin, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}
