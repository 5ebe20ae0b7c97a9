// Command kube-apiserver-test runs the real kube-apiserver (the same cobra
// command as the upstream binary) against an embedded etcd, for tests.
//
// Everything that must survive a restart lives in --data-dir: etcd data,
// the serving certificate, the service-account key, the admin token and the
// chosen ports. Starting again with the same --data-dir therefore gives the
// same endpoint and credentials, so clients (and their watches) reconnect.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

const adminUser = "conveyor-admin"

// state is what a restart must reuse so clients keep working.
type state struct {
	APIServerPort int    `json:"apiserverPort"`
	EtcdPort      int    `json:"etcdPort"`
	EtcdPeerPort  int    `json:"etcdPeerPort"`
	Token         string `json:"token"`
}

type paths struct {
	state, etcd, tlsCert, tlsKey, saKey, tokens string
}

func main() {
	dataDir := flag.String("data-dir", "", "directory for etcd data, certificates and state (reused on restart)")
	kubeconfig := flag.String("kubeconfig", "", "where to write an admin kubeconfig")
	port := flag.Int("port", 0, "apiserver port on 127.0.0.1; 0 picks a free one (or the one saved in --data-dir)")
	verbosity := flag.Int("v", 0, "kube-apiserver log verbosity")
	flag.Parse()
	if *dataDir == "" || *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "usage: kube-apiserver-test --data-dir DIR --kubeconfig FILE [--port N]")
		os.Exit(2)
	}
	os.Exit(run(*dataDir, *kubeconfig, *port, *verbosity))
}

func run(dataDir, kubeconfig string, port, verbosity int) int {
	p := paths{
		state:   filepath.Join(dataDir, "state.json"),
		etcd:    filepath.Join(dataDir, "etcd"),
		tlsCert: filepath.Join(dataDir, "apiserver.crt"),
		tlsKey:  filepath.Join(dataDir, "apiserver.key"),
		saKey:   filepath.Join(dataDir, "service-account.key"),
		tokens:  filepath.Join(dataDir, "tokens.csv"),
	}
	st, err := prepare(dataDir, p, port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "prepare: %v\n", err)
		return 1
	}

	etcd, err := startEtcd(p.etcd, st)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		return 1
	}
	// The apiserver must drain before its storage goes away, so etcd closes last.
	defer etcd.Close()

	server := "https://127.0.0.1:" + strconv.Itoa(st.APIServerPort)
	caPEM, err := os.ReadFile(p.tlsCert)
	if err != nil {
		fmt.Fprintf(os.Stderr, "read serving cert: %v\n", err)
		return 1
	}
	if err := writeKubeconfig(kubeconfig, server, caPEM, st.Token); err != nil {
		fmt.Fprintf(os.Stderr, "kubeconfig: %v\n", err)
		return 1
	}

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs([]string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(st.APIServerPort),
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(st.EtcdPort),
		"--tls-cert-file=" + p.tlsCert,
		"--tls-private-key-file=" + p.tlsKey,
		"--cert-dir=" + dataDir,
		"--token-auth-file=" + p.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p.saKey,
		"--service-account-signing-key-file=" + p.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		// With a loopback advertise address there is no real endpoint to reconcile.
		"--endpoint-reconciler-type=none",
		// Ends open watches at SIGTERM (clients re-watch) instead of holding
		// shutdown for the 60s request timeout.
		"--shutdown-watch-termination-grace-period=5s",
		"--v=" + strconv.Itoa(verbosity),
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go announceWhenReady(ctx, server, caPEM, st.Token, kubeconfig)

	// cli.Run returns after SIGTERM/SIGINT once the apiserver has shut down.
	return cli.Run(cmd)
}

// prepare creates (first start) or loads (restart) everything in dataDir.
func prepare(dataDir string, p paths, port int) (state, error) {
	var st state
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return st, err
	}
	raw, err := os.ReadFile(p.state)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &st); err != nil {
			return st, fmt.Errorf("%s: %w", p.state, err)
		}
		if port != 0 && port != st.APIServerPort {
			return st, fmt.Errorf("--port %d differs from port %d saved in %s", port, st.APIServerPort, p.state)
		}
		return st, nil
	case !errors.Is(err, os.ErrNotExist):
		return st, err
	}

	if st.APIServerPort = port; port == 0 {
		if st.APIServerPort, err = freePort(); err != nil {
			return st, err
		}
	}
	if st.EtcdPort, err = freePort(); err != nil {
		return st, err
	}
	if st.EtcdPeerPort, err = freePort(); err != nil {
		return st, err
	}
	token := make([]byte, 24)
	if _, err := rand.Read(token); err != nil {
		return st, err
	}
	st.Token = hex.EncodeToString(token)

	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		return st, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return st, err
	}
	saPEM, err := keyutil.MarshalPrivateKeyToPEM(saKey)
	if err != nil {
		return st, err
	}
	// system:masters bypasses RBAC: the tests act as cluster admin.
	tokens := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", st.Token, adminUser, adminUser)
	stJSON, err := json.Marshal(st)
	if err != nil {
		return st, err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{p.tlsCert, certPEM}, {p.tlsKey, keyPEM}, {p.saKey, saPEM}, {p.tokens, []byte(tokens)}, {p.state, stJSON}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return st, err
		}
	}
	return st, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startEtcd(dir string, st state) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.Name = "conveyor-test"
	client := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(st.EtcdPort)}
	peer := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(st.EtcdPeerPort)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.LogLevel = "error"
	// etcd's own metrics listener is not needed; keep the footprint small.
	cfg.Metrics = "basic"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, err
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, errors.New("not ready after 60s")
	}
}

func writeKubeconfig(path, server string, caPEM []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["conveyor-test"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[adminUser] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["conveyor-test"] = &clientcmdapi.Context{Cluster: "conveyor-test", AuthInfo: adminUser, Namespace: "default"}
	cfg.CurrentContext = "conveyor-test"
	return clientcmd.WriteToFile(*cfg, path)
}

// announceWhenReady prints the READY line the harness waits for, once
// /readyz answers 200 over the same TLS and token a client would use.
func announceWhenReady(ctx context.Context, server string, caPEM []byte, token, kubeconfig string) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				fmt.Printf("READY %s %s\n", server, kubeconfig)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}
