package k8stest

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestPKI checks the files the apiserver is started with: the serving
// certificate verifies against the CA for the names clients use, the
// ServiceAccount keys are an RSA pair, and the token file puts the admin
// token in system:masters.
func TestPKI(t *testing.T) {
	dir := t.TempDir()
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.caPEM) {
		t.Fatal("CA does not parse")
	}
	pair, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
	if err != nil {
		t.Fatalf("serving key pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "localhost", "::1", "kubernetes.default.svc"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("serving certificate for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool}); err == nil {
		t.Error("serving certificate verifies for example.com")
	}

	key := readPEM(t, p.saKeyFile, "RSA PRIVATE KEY")
	priv, err := x509.ParsePKCS1PrivateKey(key)
	if err != nil {
		t.Fatalf("ServiceAccount signing key: %v", err)
	}
	pubAny, err := x509.ParsePKIXPublicKey(readPEM(t, p.saPubFile, "PUBLIC KEY"))
	if err != nil {
		t.Fatalf("ServiceAccount public key: %v", err)
	}
	if pub, ok := pubAny.(*rsa.PublicKey); !ok || !pub.Equal(&priv.PublicKey) {
		t.Fatalf("ServiceAccount public key %T does not match the signing key", pubAny)
	}

	tokens, err := os.ReadFile(p.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := p.adminToken + `,admin,admin-uid,"system:masters"` + "\n"; string(tokens) != want || len(p.adminToken) < 32 {
		t.Fatalf("token file %q, want %q (token of at least 32 characters)", tokens, want)
	}
	for _, f := range []string{p.keyFile, p.saKeyFile, p.tokenFile} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, fi.Mode().Perm(), err)
		}
	}
}

func readPEM(t *testing.T, path, typ string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != typ {
		t.Fatalf("%s: no PEM block %q", path, typ)
	}
	return b.Bytes
}

func TestTailFile(t *testing.T) {
	long := strings.Repeat("x", 9000)
	tests := []struct {
		name, content string
		n             int
		want          string
	}{
		{"empty", "", 3, ""},
		{"fewer lines than asked", "a\nb\n", 3, "a\nb"},
		{"last n lines", "a\nb\nc\nd\n", 2, "c\nd"},
		{"no final newline", "a\nb\nc", 2, "b\nc"},
		{"partial first line dropped past 8 KiB", long + "\nend\n", 5, "end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := tailFile(path, tc.n); got != tc.want {
				t.Fatalf("tailFile = %q, want %q", got, tc.want)
			}
		})
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as testing's does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestMissingBinariesFail checks that Start fails, never skips, naming the
// install script, when the binaries are not where TUSK_K8S_BIN says.
func TestMissingBinariesFail(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TUSK_K8S_BIN", dir)
	if err := os.WriteFile(filepath.Join(dir, "kine"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(rec)
		rec.msg = "Start returned"
	}()
	<-done
	for _, want := range []string{"run scripts/install-k8s-test.sh", filepath.Join(dir, "kube-apiserver"), filepath.Join(dir, "kube-controller-manager")} {
		if !strings.Contains(rec.msg, want) {
			t.Errorf("Start without binaries: %q, want it to contain %q", rec.msg, want)
		}
	}
	if strings.Contains(rec.msg, filepath.Join(dir, "kine")+",") {
		t.Errorf("Start reports the present kine as missing: %q", rec.msg)
	}
}
