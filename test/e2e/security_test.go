package e2e

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
	"strings"
	"syscall"
	"testing"
	"time"
)

// A profile file in Docker's format: the docker CLI reads it and sends
// its content; the daemon compiles it against the container's caps.
func TestCustomSeccompProfile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "profile.json")
	os.WriteFile(p, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}`), 0o644)
	out, err := docker(nil, "run", "--rm", "--security-opt", "seccomp="+p, "busybox", "sh", "-c", "mkdir /tmp/x; echo rc=$?; touch /tmp/y && echo touched")
	if err != nil || !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "rc=1") || !strings.Contains(out, "touched") {
		t.Errorf("mkdir denied, the rest allowed: %v %q", err, out)
	}
	os.WriteFile(p, []byte(`{"defaultAction":"SCMP_ACT_NOPE"}`), 0o644)
	out, err = docker(nil, "create", "--security-opt", "seccomp="+p, "busybox", "true")
	if err == nil || !strings.Contains(out, "seccomp profile") {
		t.Errorf("a bad profile is refused at create: %v %q", err, out)
	}
}

// tcp listeners: refused without TLS (unless --insecure-tcp); with
// --tlsverify only clients holding a certificate the CA signed get in.
func TestTCPWithTLS(t *testing.T) {
	dir := t.TempDir()
	writeCerts(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// A bridge, table and subnets of its own, beside the main e2e daemon's.
	bridge := fmt.Sprintf("gnt%d", os.Getpid()%100000)
	base := []string{"daemon", "--data-root", filepath.Join(dir, "data"), "--exec-root", fmt.Sprintf("/run/gorae-e2e-tls-%d", os.Getpid()), "--config-file", "/nonexistent", "-H", "tcp://" + addr,
		"--bridge", bridge, "--bip", "10.201.28.1/24", "--default-address-pool", "base=10.201.24.0/22,size=24"}
	defer os.RemoveAll(fmt.Sprintf("/run/gorae-e2e-tls-%d", os.Getpid()))
	defer exec.Command("nft", "delete", "table", "ip", "gorae-"+bridge).Run()
	defer exec.Command("ip", "link", "del", bridge).Run()
	if out, err := exec.Command(gorae, base...).CombinedOutput(); err == nil || !strings.Contains(string(out), "without TLS") {
		t.Fatalf("plain tcp must be refused: %v %s", err, out)
	}
	cmd := exec.Command(gorae, append(base, "--tlsverify", "--tlscacert", dir+"/ca.pem", "--tlscert", dir+"/server.pem", "--tlskey", dir+"/server-key.pem")...)
	logb := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logb, logb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	tlsDocker := func(args ...string) (string, error) {
		c := exec.Command(dockerBin, args...)
		c.Env = append(os.Environ(), "DOCKER_HOST=tcp://"+addr, "DOCKER_CONFIG="+dir)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	certs := []string{"--tlsverify", "--tlscacert", dir + "/ca.pem", "--tlscert", dir + "/client.pem", "--tlskey", dir + "/client-key.pem"}
	var out string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, err = tlsDocker(append(certs, "version", "--format", "{{.Server.Os}}")...); err == nil {
			break
		}
	}
	if err != nil || strings.TrimSpace(out) != "linux" {
		t.Fatalf("docker over TLS: %v %q\n%s", err, out, logb)
	}
	// The server's certificate verified, but no client certificate.
	if out, err := tlsDocker("--tlsverify", "--tlscacert", dir+"/ca.pem", "version"); err == nil {
		t.Errorf("a client without a certificate got in: %s", out)
	}
}

// writeCerts makes a CA, a server certificate for 127.0.0.1 and a
// client certificate, as `openssl` recipes in Docker's docs do.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gorae test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(name string, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	for i, leaf := range []struct {
		name  string
		usage x509.ExtKeyUsage
	}{{"server", x509.ExtKeyUsageServerAuth}, {"client", x509.ExtKeyUsageClientAuth}} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: leaf.name}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{leaf.usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		write(leaf.name+".pem", "CERTIFICATE", der)
		write(leaf.name+"-key.pem", "EC PRIVATE KEY", kb)
	}
}
