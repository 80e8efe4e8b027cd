package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovnkube/ovnkube/pkg/sandbox"
	"github.com/ovnkube/ovnkube/test/harness"
)

// testCA issues certificates the way ovs-pki does: the name in the CN only.
type testCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ovnkube test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{dir: dir, cert: cert, key: key}
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", der)
	return ca
}

// issue writes name.crt and name.key for a certificate with CN cn.
func (ca *testCA) issue(t *testing.T, name, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.dir, name+".crt"), filepath.Join(ca.dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// sslNB serves an initialized NB over ssl: on a free loopback port with the
// given server certificate and returns the address.
func sslNB(t *testing.T, dir string, ca *testCA, certFile, keyFile string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "nb.db")
	if out, err := exec.Command("ovsdb-tool", "create", db, "/usr/share/ovn/ovn-nb.ovsschema").CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-tool create: %v: %s", err, out)
	}
	port, err := sandbox.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "nb.sock")
	p := &sandbox.Process{}
	if err := p.Start("ovsdb-server-ssl", filepath.Join(dir, "ovsdb-server.log"), "ovsdb-server", db,
		"--no-chdir", "-vconsole:off", "--log-file="+filepath.Join(dir, "ovsdb-server.log"),
		"--pidfile="+filepath.Join(dir, "nb.pid"), "--unixctl="+filepath.Join(dir, "nb.ctl"),
		"--remote=punix:"+sock, fmt.Sprintf("--remote=pssl:%d:127.0.0.1", port),
		"--private-key="+keyFile, "--certificate="+certFile, "--ca-cert="+filepath.Join(ca.dir, "ca.crt")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	eventually(t, 10*time.Second, func() string {
		if out, err := exec.Command("ovn-nbctl", "--db=unix:"+sock, "--no-wait", "init").CombinedOutput(); err != nil {
			return fmt.Sprintf("ovn-nbctl init: %v: %s", err, out)
		}
		return ""
	})
	return fmt.Sprintf("ssl:127.0.0.1:%d", port)
}

// TestOVSDBTLSServerName: over ssl: the master verifies the NB's
// certificate names the expected server (--nb-cert-common-name, or the host
// dialed), not only that the CA signed it: a certificate of the same CA
// issued to a node is refused with a message naming both names; the
// database's own certificate is accepted.
func TestOVSDBTLSServerName(t *testing.T) {
	dir := harness.ShortTempDir(t)
	ca := newTestCA(t, dir)
	clientCert, clientKey := ca.issue(t, "master", "ovnkube-master")
	nodeCert, nodeKey := ca.issue(t, "node", "node-1")
	nbCert, nbKey := ca.issue(t, "nb", "ovnnb")
	tlsArgs := []string{"--nb-client-cert", clientCert, "--nb-client-key", clientKey, "--nb-client-cacert", filepath.Join(dir, "ca.crt"),
		"--nb-cert-common-name", "ovnnb"}

	impostor := sslNB(t, filepath.Join(dir, "impostor"), ca, nodeCert, nodeKey)
	bin, err := sandbox.BuiltBin("", "ovnkube")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"master", "--kubeconfig", apiServer.Kubeconfig, "--nb-address", impostor, "--sb-address", "unix:" + filepath.Join(dir, "none.sock"),
		"--cluster-subnets", "10.244.0.0/16/24", "--service-cidrs", "10.96.0.0/16", "--metrics-address", ""}, tlsArgs...)
	cmd := exec.Command(bin, args...)
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the master kept running against a server with a node's certificate")
	}
	if err == nil {
		t.Fatalf("the master exited 0 against a server with a node's certificate:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("refused: %s", lines[len(lines)-1])
	for _, want := range []string{`"node-1"`, `"ovnnb"`, "--nb-cert-common-name"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the refusal does not name %s:\n%s", want, out)
		}
	}

	// The database's own certificate: the master connects and gets ready.
	nb := sslNB(t, filepath.Join(dir, "nb"), ca, nbCert, nbKey)
	m, err := sandbox.StartMaster(filepath.Join(dir, "master"), sandbox.MasterOptions{
		Kubeconfig: apiServer.Kubeconfig, NBAddress: nb, SBAddress: "unix:" + filepath.Join(dir, "none.sock"),
		ClusterSubnets: "10.244.0.0/16/24", ServiceCIDRs: "10.96.0.0/16", ExtraArgs: tlsArgs,
	})
	if err != nil {
		t.Fatalf("the master against the NB's own certificate: %v", err)
	}
	m.Stop()
}
