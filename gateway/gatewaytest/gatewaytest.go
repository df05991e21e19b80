// Package gatewaytest starts a real gateway in-process on a random loopback
// port for tests: the same code path as `tusk serve`, real HTTP.
package gatewaytest

import (
	"context"
	"net"
	"testing"

	"github.com/tusk-data/tusk/gateway"
)

// Test credentials of the admin user.
const (
	AccessKey = "TKTESTADMINKEY000001"
	SecretKey = "test-secret-key-for-the-admin-user-0001"
)

// Server is a running test gateway.
type Server struct {
	*gateway.Server
	URL     string // http://127.0.0.1:PORT
	Addr    string // 127.0.0.1:PORT
	DataDir string
	stop    context.CancelFunc
	done    chan error
}

// Start starts a gateway with cfg (DataDir defaults to a temp dir, keys to
// AccessKey/SecretKey) and stops it when the test ends.
func Start(t testing.TB, cfg gateway.Config) *Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.AccessKey == "" {
		cfg.AccessKey, cfg.SecretKey = AccessKey, SecretKey
	}
	if cfg.MinFree == 0 {
		cfg.MinFree = 1 << 20
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = ln.Addr().String()
	srv, err := gateway.New(context.Background(), cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Server: srv, URL: "http://" + cfg.Addr, Addr: cfg.Addr, DataDir: cfg.DataDir, stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { s.Stop() })
	return s
}

// Stop shuts the server down (idempotent) and closes its stores.
func (s *Server) Stop() {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
	s.Close()
	s.stop = nil
}
