package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// tlsOptions are dockerd's TLS flags (and daemon.json keys).
type tlsOptions struct {
	TLS    bool   `json:"tls,omitempty"`
	Verify bool   `json:"tlsverify,omitempty"`
	CACert string `json:"tlscacert,omitempty"`
	Cert   string `json:"tlscert,omitempty"`
	Key    string `json:"tlskey,omitempty"`
}

// defaults fills the paths as dockerd does: ~/.docker/{ca,cert,key}.pem,
// or $DOCKER_CERT_PATH.
func (o *tlsOptions) defaults() {
	dir := os.Getenv("DOCKER_CERT_PATH")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".docker")
	}
	if o.CACert == "" {
		o.CACert = filepath.Join(dir, "ca.pem")
	}
	if o.Cert == "" {
		o.Cert = filepath.Join(dir, "cert.pem")
	}
	if o.Key == "" {
		o.Key = filepath.Join(dir, "key.pem")
	}
}

// config is the server side: our certificate, and with --tlsverify only
// clients whose certificate the CA signed get in (that is the whole of
// the API's authentication, as with dockerd). nil when TLS is off.
func (o *tlsOptions) config() (*tls.Config, error) {
	if !o.TLS && !o.Verify {
		return nil, nil
	}
	o.defaults()
	cert, err := tls.LoadX509KeyPair(o.Cert, o.Key)
	if err != nil {
		return nil, fmt.Errorf("TLS: load the server certificate %s and key %s: %w (make them, or point --tlscert/--tlskey at them)", o.Cert, o.Key, err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if o.Verify {
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("TLS: read the CA certificate: %w (--tlscacert)", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("TLS: " + o.CACert + " holds no PEM certificate")
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}
