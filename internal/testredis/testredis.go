// Package testredis gives tests a certificate authority made with
// crypto/x509 and redis-server processes of their own (for TLS), started
// from the Debian redis-server on the PATH. It is for tests only and
// imports no client library.
package testredis

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// CA is a throwaway certificate authority whose files live in a test's
// temporary directory.
type CA struct {
	// File is the PEM file of the CA certificate: what clients trust.
	File string
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a CA valid for an hour.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fraudwatch test CA"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	ca := &CA{File: filepath.Join(dir, "ca.pem"), dir: dir, cert: cert, key: key}
	writePEM(tb, ca.File, "CERTIFICATE", der)
	return ca
}

// Issue signs a certificate for name (a server certificate for the DNS
// names and IPs in hosts, or a client certificate when hosts is empty)
// and returns its PEM certificate and key files.
func (ca *CA) Issue(tb testing.TB, name string, hosts ...string) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(hosts) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.dir, name+".pem"), filepath.Join(ca.dir, name+"-key.pem")
	writePEM(tb, certFile, "CERTIFICATE", der)
	writePEM(tb, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// RedisServer returns the path of redis-server, or skips the test when it
// is not installed (fails under CI, where it must be).
func RedisServer(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal("redis-server is not on the PATH and CI is set: the TLS tests must run in CI")
		}
		tb.Skip("redis-server is not on the PATH: install it (Debian: redis-server) to run the TLS tests")
	}
	return path
}

// TLSServer is a redis-server that accepts TLS connections only.
type TLSServer struct {
	// Addr is 127.0.0.1:port of the TLS listener.
	Addr string
}

// StartTLS starts a redis-server that listens only with TLS on a free
// loopback port, with a server certificate for 127.0.0.1 and localhost
// issued by ca. authClients is redis.conf's tls-auth-clients: "yes" asks
// every client for a certificate signed by ca, "no" asks none. extra are
// more redis-server arguments. The server is stopped when the test ends.
func StartTLS(tb testing.TB, ca *CA, authClients string, extra ...string) *TLSServer {
	tb.Helper()
	bin := RedisServer(tb)
	cert, key := ca.Issue(tb, "redis-server", "127.0.0.1", "localhost")
	dir := tb.TempDir()
	for attempt := 0; ; attempt++ {
		port := freePort(tb)
		args := append([]string{
			"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca.File,
			"--tls-auth-clients", authClients,
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"),
		}, extra...)
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if waitListening(addr, exited) {
			tb.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return &TLSServer{Addr: addr}
		}
		_ = cmd.Process.Kill()
		log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
		if attempt == 2 {
			tb.Fatalf("redis-server %v did not start listening; its log:\n%s", args, log)
		}
	}
}

// waitListening waits up to 10s for addr to accept TCP connections; false
// if the process exits first or it never does (the port was taken).
func waitListening(addr string, exited <-chan error) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(fmt.Errorf("finding a free port: %w", err))
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
