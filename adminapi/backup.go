package adminapi

import (
	"context"
	"net/http"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// MirrorOps is the metadata mirror, when the gateway runs one: Deps.Ops
// implements it (found by type assertion).
type MirrorOps interface {
	// MirrorStatus reports the mirror's state.
	MirrorStatus(ctx context.Context) apiv1.MirrorStatus
	// MirrorSync runs a mirror step now and reports the state after it.
	MirrorSync(ctx context.Context) (apiv1.MirrorStatus, error)
}

func (a *API) backupRoutes() {
	a.handle("GET", "/backup", a.backup)
	a.handle("GET", "/mirror", a.mirrorStatus)
	a.handle("POST", "/mirror/sync", a.mirrorSync)
}

// backup streams a consistent snapshot of the metadata store (the kv dump
// format; global admin only). Every write acknowledged before the request
// arrived is in it. A failure after the first byte cuts the stream, which
// the dump's end record then lacks: tusk backup refuses such a file.
func (a *API) backup(c *adminCall) (any, error) {
	if err := c.needGlobalAdmin("take backups"); err != nil {
		return nil, err
	}
	if c.r.Method == http.MethodHead {
		c.wrote = true
		c.w.WriteHeader(http.StatusOK)
		return nil, nil
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="tusk-metadata.dump"`)
	sw := &startWriter{w: c.w}
	mark, err := a.meta.Dump(c.ctx, sw, kv.DumpOptions{})
	if err != nil {
		if !sw.started {
			return nil, err
		}
		c.err = err
		panic(http.ErrAbortHandler)
	}
	c.wrote = true
	if !sw.started {
		c.w.WriteHeader(http.StatusOK)
	}
	c.audit(a, "backup", "", "mark "+string(mark))
	return nil, nil
}

// startWriter notes whether anything was written (the status is then sent).
type startWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	s.started = true
	return s.w.Write(p)
}

func (a *API) mirror() (MirrorOps, error) {
	m, ok := a.ops.(MirrorOps)
	if !ok {
		return nil, fail(errs.Invalid, "InvalidArgument", "this gateway runs no metadata mirror")
	}
	return m, nil
}

func (a *API) mirrorStatus(c *adminCall) (any, error) {
	if err := c.needGlobalAdmin("read the mirror's status"); err != nil {
		return nil, err
	}
	m, err := a.mirror()
	if err != nil {
		return nil, err
	}
	return m.MirrorStatus(c.ctx), nil
}

func (a *API) mirrorSync(c *adminCall) (any, error) {
	if err := c.needGlobalAdmin("run the mirror"); err != nil {
		return nil, err
	}
	m, err := a.mirror()
	if err != nil {
		return nil, err
	}
	return m.MirrorSync(c.ctx)
}
