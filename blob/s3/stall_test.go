package s3_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/s3"
	"github.com/tusk-data/tusk/internal/netfreeze"
)

// TestServerFrozen: a service that accepts connections and never answers
// (frozen) fails every call errs.Transient within a bound of
// Config.Timeout, instead of holding it for as long as it is frozen; the
// driver works again once the service thaws.
func TestServerFrozen(t *testing.T) {
	gw := sharedGateway(t)
	f, err := netfreeze.Start(gw.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := config(gw)
	cfg.Endpoint = f.Addr()
	const timeout = 300 * time.Millisecond
	cfg.Timeout = timeout
	d := openDriver(t, cfg)
	defer d.Close()
	ctx := context.Background()
	for _, k := range []string{"k", "keep"} {
		if err := d.Put(ctx, k, strings.NewReader("v"), 1); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte("frozen"), 2<<20) // 12 MiB: a multipart Put

	f.Freeze()
	// minio-go makes maxRetries (3) attempts at a timed-out request, with
	// backoff: the bound is a few times Timeout, far from "for ever".
	const bound = 20 * time.Second
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Stat", func() error { _, err := d.Stat(ctx, "k"); return err }},
		{"Put", func() error { return d.Put(ctx, "k2", strings.NewReader("v"), 1) }},
		{"Put large", func() error { return d.Put(ctx, "big", bytes.NewReader(big), int64(len(big))) }},
		{"Put unsized", func() error { return d.Put(ctx, "big2", bytes.NewReader(big), -1) }},
		{"Get", func() error {
			r, err := d.Get(ctx, "k", 0, -1)
			if err == nil {
				_, err = io.ReadAll(r)
				r.Close()
			}
			return err
		}},
		{"Delete", func() error { return d.Delete(ctx, "k") }},
		{"List", func() error { return d.List(ctx, "", func(blob.Attrs) error { return nil }) }},
		{"Open", func() error {
			d2, err := s3.Open(ctx, cfg)
			if err == nil {
				d2.Close()
			}
			return err
		}},
	} {
		start := time.Now()
		err := tc.call()
		took := time.Since(start)
		wantTransient(t, tc.name, err)
		if took > bound {
			t.Errorf("%s against a frozen service took %v, want under %v", tc.name, took, bound)
		}
		t.Logf("%s against a frozen service failed after %v", tc.name, took.Round(time.Millisecond))
	}

	// Thawed, it answers what it held (as a SIGCONTed process would) and
	// what comes next.
	f.Thaw()
	if a, err := d.Stat(ctx, "keep"); err != nil || a.Size != 1 {
		t.Fatalf("Stat after the service thawed: %+v %v", a, err)
	}
}
