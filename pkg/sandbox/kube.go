package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Client rate limits: client-go's default (5 QPS, burst 10) would make the
// test client, not the system under test, the bottleneck.
const (
	ClientQPS   = 500
	ClientBurst = 1000
)

// DefaultServiceCIDR is the service range when KubeOptions leaves it empty.
const DefaultServiceCIDR = "10.96.0.0/16"

// kubeControllers are the controller-manager controllers a cluster without
// kubelets needs. Not nodelifecycle: it would taint every Node that sends no
// kubelet heartbeats.
var kubeControllers = []string{
	"deployment", "replicaset", "endpointslice", "endpointslicemirroring",
	"serviceaccount", "serviceaccount-token", "namespace", "garbagecollector",
}

// Kube is a Kubernetes control plane on 127.0.0.1: etcd and kube-apiserver,
// optionally kube-controller-manager and kube-scheduler. Dir holds etcd's
// data, the certificates, the token file, the kubeconfig and the logs.
type Kube struct {
	Dir        string
	Kubeconfig string // Dir/kubeconfig: token auth, CA = the apiserver's self-signed cert
	Server     string // https://127.0.0.1:PORT
	Token      string // bearer token of the admin user (group system:masters)
	// MasterKubeconfig is ovnkube master's own identity, the user name of
	// its ServiceAccount in dist/ (MasterUser), so the admission policies
	// that single out the master work alike here and in a cluster.
	MasterKubeconfig string
	CAFile           string
	EtcdURL          string // http://127.0.0.1:PORT

	// Start-up timings: each from the start of that component until ready.
	EtcdReadyIn, APIServerReadyIn, ControllerManagerReadyIn, SchedulerReadyIn time.Duration

	Etcd, APIServer, ControllerManager, Scheduler *Process

	masterToken string
	nodeTokens  map[string]string
}

// KubeOptions selects the optional components.
type KubeOptions struct {
	ControllerManager bool
	Scheduler         bool
	ServiceCIDR       string // default DefaultServiceCIDR
	NodePortRange     string // --service-node-port-range; the API server's default when empty
	// ExtraAPIServerArgs are appended to kube-apiserver's command line.
	ExtraAPIServerArgs []string
	// NodeAgents are the nodes whose `ovnkube node` gets its own identity
	// (NodeAgentUser) and kubeconfig (NodeKubeconfig).
	NodeAgents []string
	Launch     Launch
}

// StartKube starts the control plane in dir and returns once the apiserver's
// /readyz is 200 and the optional components are up.
func StartKube(dir string, opts KubeOptions) (*Kube, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if opts.ServiceCIDR == "" {
		opts.ServiceCIDR = DefaultServiceCIDR
	}
	// Find every binary before starting anything.
	etcdBin, err := DebianBin("etcd")
	if err != nil {
		return nil, err
	}
	apiBin, err := BuiltBin(opts.Launch.BinDir, "kube-apiserver")
	if err != nil {
		return nil, err
	}
	var kcmBin, schedBin string
	if opts.ControllerManager {
		if kcmBin, err = BuiltBin(opts.Launch.BinDir, "kube-controller-manager"); err != nil {
			return nil, err
		}
	}
	if opts.Scheduler {
		if schedBin, err = BuiltBin(opts.Launch.BinDir, "kube-scheduler"); err != nil {
			return nil, err
		}
	}
	k := &Kube{Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), MasterKubeconfig: filepath.Join(dir, "master.kubeconfig"),
		CAFile: filepath.Join(dir, "certs", "apiserver.crt")}
	for _, d := range []string{dir, filepath.Join(dir, "certs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	ok := false
	defer func() {
		if !ok {
			k.Stop()
		}
	}()
	if err := k.writeCredentials(opts.NodeAgents); err != nil {
		return nil, err
	}
	if err := retryOnPortRace(func() (*Process, error) { return k.startEtcd(etcdBin, opts.Launch) }); err != nil {
		return nil, err
	}
	if err := retryOnPortRace(func() (*Process, error) { return k.startAPIServer(apiBin, opts) }); err != nil {
		return nil, err
	}
	if opts.ControllerManager {
		if err := k.startControllerManager(kcmBin, opts.Launch); err != nil {
			return nil, err
		}
	}
	if opts.Scheduler {
		if err := retryOnPortRace(func() (*Process, error) { return k.startScheduler(schedBin, opts.Launch) }); err != nil {
			return nil, err
		}
	}
	ok = true
	return k, nil
}

// retryOnPortRace runs start up to three times while it fails because the
// free port it picked was taken meanwhile. start returns the process it
// started (or nil) with its error.
func retryOnPortRace(start func() (*Process, error)) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var p *Process
		p, err = start()
		if err == nil || p == nil || !portInUse(p) {
			return err
		}
	}
	return err
}

// writeCredentials generates the service-account signing key pair and the
// admin token.
func (k *Kube) writeCredentials(nodes []string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(k.Dir, "sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), 0o600); err != nil {
		return err
	}
	if err := writePEM(filepath.Join(k.Dir, "sa.pub"), "PUBLIC KEY", pub, 0o644); err != nil {
		return err
	}
	var err2 error
	newToken := func() string {
		tok := make([]byte, 16)
		if _, err := rand.Read(tok); err != nil {
			err2 = err
		}
		return hex.EncodeToString(tok)
	}
	k.Token, k.masterToken = newToken(), newToken()
	k.nodeTokens = map[string]string{}
	for _, n := range nodes {
		k.nodeTokens[n] = newToken()
	}
	if err2 != nil {
		return err2
	}
	// The master is its dist/ ServiceAccount's user name, the node agents
	// one user each in NodeAgentsGroup: they get exactly dist/'s RBAC
	// (InstallRBAC), and the admission policies apply to them.
	lines := k.Token + ",admin,admin-uid,system:masters\n" +
		k.masterToken + "," + MasterUser + ",ovnkube-master-uid,\"system:serviceaccounts,system:serviceaccounts:ovn-kubernetes\"\n"
	for _, n := range nodes {
		lines += k.nodeTokens[n] + "," + NodeAgentUser(n) + ",ovnkube-node-" + n + "," + NodeAgentsGroup + "\n"
	}
	if err := os.WriteFile(filepath.Join(k.Dir, "audit-policy.yaml"), []byte(auditPolicy), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(k.Dir, "tokens.csv"), []byte(lines), 0o600)
}

// AuditLog is the API server's audit log: one JSON line per request of
// ovnkube's identities (the master's and the node agents'), at the
// Metadata level.
func (k *Kube) AuditLog() string { return filepath.Join(k.Dir, "audit.log") }

// auditPolicy records ovnkube's requests, nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts:ovn-kubernetes", "` + NodeAgentsGroup + `"]
- level: None
`

// NodeAgentUser is the user name of node's `ovnkube node` in the sandbox.
// (In a cluster the agents share their ServiceAccount's name and tell
// their node by the token's authentication.kubernetes.io/node-name.)
func NodeAgentUser(node string) string { return "system:ovnkube-node:" + node }

// NodeKubeconfig is node's `ovnkube node` kubeconfig.
func (k *Kube) NodeKubeconfig(node string) string { return NodeKubeconfigPath(k.Dir, node) }

// NodeKubeconfigPath is node's `ovnkube node` kubeconfig in the control
// plane's directory kubeDir.
func NodeKubeconfigPath(kubeDir, node string) string {
	return filepath.Join(kubeDir, "node-"+node+".kubeconfig")
}

// MasterUser is ovnkube master's user name: its ServiceAccount's in dist/.
const MasterUser = "system:serviceaccount:ovn-kubernetes:ovnkube-master"

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func (k *Kube) startEtcd(bin string, l Launch) (*Process, error) {
	t0 := time.Now()
	clientPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	p, err := l.start("etcd", filepath.Join(k.Dir, "etcd.log"), nil, bin,
		"--name=ovnkube", "--data-dir="+filepath.Join(k.Dir, "etcd"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=ovnkube="+peer, "--listen-metrics-urls=",
		"--logger=zap", "--log-outputs=stderr")
	if err != nil {
		return nil, err
	}
	k.Etcd = p
	hc := &http.Client{Timeout: 2 * time.Second}
	err = waitReady("etcd", 30*time.Second, func() (bool, error) { return httpOK(hc, client+"/health", "") }, p)
	if err != nil {
		p.Stop()
		return p, err
	}
	k.EtcdURL = client
	k.EtcdReadyIn = time.Since(t0)
	return p, nil
}

func (k *Kube) startAPIServer(bin string, opts KubeOptions) (*Process, error) {
	t0 := time.Now()
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{bin,
		"--etcd-servers=" + k.EtcdURL,
		"--bind-address=127.0.0.1",
		// The default would be the host's first interface address; the
		// kubernetes Service endpoints then point at it. 127.0.0.1 is only
		// accepted without the endpoint reconciler.
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(k.Dir, "certs"),
		"--token-auth-file=" + filepath.Join(k.Dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(k.Dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(k.Dir, "sa.key"),
		"--service-cluster-ip-range=" + opts.ServiceCIDR,
		// ServiceAccount: pods are created by tests right after their
		// namespace, and the plugin would reject them until the
		// controller-manager has made the "default" ServiceAccount; no
		// kubelet mounts the token anyway.
		// TaintNodesByCondition: it taints every new Node
		// node.kubernetes.io/not-ready:NoSchedule, and only the node
		// lifecycle controller (which we cannot run without kubelets)
		// would remove it, so nothing would ever be scheduled.
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
		"--allow-privileged=true",
		// What ovnkube's identities do, for the test that holds dist/'s
		// RBAC to exactly that (AuditLog).
		"--audit-policy-file=" + filepath.Join(k.Dir, "audit-policy.yaml"),
		"--audit-log-path=" + k.AuditLog(),
		"--audit-log-format=json",
		// A long `make run` renews the master's Lease every 2 s: bound
		// the log (MB, rotated once).
		"--audit-log-maxsize=50", "--audit-log-maxbackup=1",
	}
	if opts.NodePortRange != "" {
		args = append(args, "--service-node-port-range="+opts.NodePortRange)
	}
	args = append(args, opts.ExtraAPIServerArgs...)
	p, err := opts.Launch.start("kube-apiserver", filepath.Join(k.Dir, "kube-apiserver.log"), nil, args...)
	if err != nil {
		return nil, err
	}
	k.APIServer = p
	k.Server = fmt.Sprintf("https://127.0.0.1:%d", port)
	var hc *http.Client
	err = waitReady("kube-apiserver", 120*time.Second, func() (bool, error) {
		if hc == nil {
			// The apiserver writes its self-signed serving cert at start.
			c, err := httpsClient(k.CAFile)
			if err != nil {
				return false, err
			}
			hc = c
		}
		return httpOK(hc, k.Server+"/readyz", k.Token)
	}, p)
	if err != nil {
		p.Stop()
		return p, err
	}
	if err := k.writeKubeconfig(); err != nil {
		return p, err
	}
	k.APIServerReadyIn = time.Since(t0)
	return p, nil
}

func (k *Kube) startControllerManager(bin string, l Launch) error {
	t0 := time.Now()
	p, err := l.start("kube-controller-manager", filepath.Join(k.Dir, "kube-controller-manager.log"), nil, bin,
		"--kubeconfig="+k.Kubeconfig,
		"--controllers="+strings.Join(kubeControllers, ","),
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file="+filepath.Join(k.Dir, "sa.key"),
		"--root-ca-file="+k.CAFile,
		// Defaults are 20/30: too slow for the benchmark's thousands of
		// pods and EndpointSlices.
		"--kube-api-qps=500", "--kube-api-burst=1000",
	)
	if err != nil {
		return err
	}
	k.ControllerManager = p
	cs, err := k.Client()
	if err != nil {
		return err
	}
	// Ready means its controllers run: the serviceaccount controller has
	// made the "default" ServiceAccount of the "default" namespace.
	err = waitReady("kube-controller-manager", 60*time.Second, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}, p)
	if err != nil {
		return err
	}
	k.ControllerManagerReadyIn = time.Since(t0)
	return nil
}

func (k *Kube) startScheduler(bin string, l Launch) (*Process, error) {
	t0 := time.Now()
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	// The scheduler serves /readyz only on its secure port, so it gets one
	// on loopback (self-signed in-memory cert) to be waited on properly.
	// /readyz is always allowed, so no delegated authn/authz is needed.
	p, err := l.start("kube-scheduler", filepath.Join(k.Dir, "kube-scheduler.log"), nil, bin,
		"--kubeconfig="+k.Kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--kube-api-qps=500", "--kube-api-burst=1000",
	)
	if err != nil {
		return nil, err
	}
	k.Scheduler = p
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		// Loopback only, to a cert the scheduler made for itself a moment ago.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	err = waitReady("kube-scheduler", 60*time.Second, func() (bool, error) {
		return httpOK(hc, fmt.Sprintf("https://127.0.0.1:%d/readyz", port), "")
	}, p)
	if err != nil {
		p.Stop()
		return p, err
	}
	k.SchedulerReadyIn = time.Since(t0)
	return p, nil
}

func httpsClient(caFile string) (*http.Client, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

// httpOK reports whether GET url answers 200.
func httpOK(hc *http.Client, url, token string) (bool, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return true, nil
}

func (k *Kube) writeKubeconfig() error {
	files := []struct{ path, user, token string }{{k.Kubeconfig, "admin", k.Token}, {k.MasterKubeconfig, "ovnkube-master", k.masterToken}}
	for n, tok := range k.nodeTokens {
		files = append(files, struct{ path, user, token string }{k.NodeKubeconfig(n), "ovnkube-node-" + n, tok})
	}
	for _, f := range files {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["ovnkube"] = &clientcmdapi.Cluster{Server: k.Server, CertificateAuthority: k.CAFile}
		cfg.AuthInfos[f.user] = &clientcmdapi.AuthInfo{Token: f.token}
		cfg.Contexts["ovnkube"] = &clientcmdapi.Context{Cluster: "ovnkube", AuthInfo: f.user}
		cfg.CurrentContext = "ovnkube"
		if err := clientcmd.WriteToFile(*cfg, f.path); err != nil {
			return err
		}
	}
	return nil
}

// RestConfig is an admin client config with high client-side rate limits.
func (k *Kube) RestConfig() (*rest.Config, error) {
	if k.Server == "" {
		return nil, fmt.Errorf("kube-apiserver not started")
	}
	return &rest.Config{
		Host:            k.Server,
		BearerToken:     k.Token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: k.CAFile},
		QPS:             ClientQPS,
		Burst:           ClientBurst,
	}, nil
}

// Client is an admin clientset with high client-side rate limits.
func (k *Kube) Client() (kubernetes.Interface, error) {
	cfg, err := k.RestConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// Processes lists the running processes in start order.
func (k *Kube) Processes() []*Process {
	var ps []*Process
	for _, p := range []*Process{k.Etcd, k.APIServer, k.ControllerManager, k.Scheduler} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// Stop stops the components in reverse start order: the clients of the
// apiserver first (so they do not log a storm of connection errors), then
// the apiserver, then etcd. Idempotent.
func (k *Kube) Stop() {
	if k == nil {
		return
	}
	StopAll(k.Scheduler, k.ControllerManager)
	k.APIServer.Stop()
	k.Etcd.Stop()
}
