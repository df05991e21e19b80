package gateway

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tusk-data/tusk/adminapi"
	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/backup"
)

// DefaultMetaMirrorInterval is Config.MetaMirrorInterval's default: the
// bound on how far the backing store's copy of the metadata lags (plus
// one step's duration).
const DefaultMetaMirrorInterval = 10 * time.Second

// metaMirror runs the metadata mirror (meta/backup) of a server.
type metaMirror struct {
	m        *backup.Mirror
	interval time.Duration
}

// initMirror builds the mirror over the backing store (nil when
// Config.MetaMirrorInterval < 0). Sealed records use serverKey.
func (s *Server) initMirror(serverKey []byte, drv blob.Driver) error {
	iv := s.cfg.MetaMirrorInterval
	if iv == 0 {
		iv = DefaultMetaMirrorInterval
	}
	if iv < 0 {
		return nil
	}
	aead, err := backup.SealKey(serverKey)
	if err != nil {
		return err
	}
	// Segments staged by a process that died before uploading them.
	stale, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, backup.StagePattern))
	for _, f := range stale {
		os.Remove(f)
	}
	s.mirror = &metaMirror{interval: iv,
		m: &backup.Mirror{Store: s.Meta, Objects: drv, AEAD: aead, TempDir: s.cfg.DataDir}}
	return nil
}

// startMirror runs a first step, then one per interval, until ctx ends;
// the function it returns stops the loop and runs a last step (so a clean
// shutdown leaves nothing unmirrored).
func (s *Server) startMirror(ctx context.Context) func() {
	mm := s.mirror
	if mm == nil {
		return func() {}
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	step := func() {
		if err := mm.m.Step(context.WithoutCancel(lctx)); err != nil {
			s.cfg.Log.Error().Err(err).Msg("metadata mirror step failed")
		}
	}
	go func() {
		defer close(done)
		step()
		t := time.NewTicker(mm.interval)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				step()
			}
		}
	}()
	return func() {
		stop()
		<-done
		if err := mm.m.Step(context.WithoutCancel(ctx)); err != nil {
			s.cfg.Log.Error().Err(err).Msg("last metadata mirror step failed")
		}
	}
}

var _ adminapi.MirrorOps = adminOps{}

func (o adminOps) MirrorStatus(ctx context.Context) apiv1.MirrorStatus {
	mm := o.s.mirror
	if mm == nil {
		return apiv1.MirrorStatus{}
	}
	st := mm.m.Status()
	out := apiv1.MirrorStatus{Enabled: true, IntervalSeconds: mm.interval.Seconds(), Segments: st.Segments,
		Bytes: st.Bytes, Steps: st.Steps, LastDuration: st.LastDuration.Seconds(), LastError: st.LastError}
	if !st.Through.IsZero() {
		out.Through = st.Through.UTC().Format(time.RFC3339Nano)
		out.LagSeconds = time.Since(st.Through).Seconds()
	}
	if !st.LastFull.IsZero() {
		out.LastFull = st.LastFull.UTC().Format(time.RFC3339Nano)
	}
	if !st.LastErrorAt.IsZero() {
		out.LastErrorAt = st.LastErrorAt.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// MirrorSync runs a mirror step now (steps run one at a time; it is not
// cancelled with the request, so that a cut request does not waste the
// step) and reports the state after it.
func (o adminOps) MirrorSync(ctx context.Context) (apiv1.MirrorStatus, error) {
	mm := o.s.mirror
	if mm == nil {
		return apiv1.MirrorStatus{}, errs.E("gateway.MirrorSync", errs.Invalid, "this gateway runs no metadata mirror (--meta-mirror-interval is negative)")
	}
	if err := mm.m.Step(context.WithoutCancel(ctx)); err != nil {
		return apiv1.MirrorStatus{}, errs.Wrap("gateway.MirrorSync", errs.Transient, err)
	}
	return o.MirrorStatus(ctx), nil
}

// mirrorAfterPurge runs a mirror step after a purge, so that its answer
// comes once the purge records are in the backing store too: a purge
// deletes bytes at once, and a restore must not bring back versions
// whose bytes are gone without the record that says they were purged.
// A failed step is logged; the purge itself is done.
func (s *Server) mirrorAfterPurge(ctx context.Context) {
	if s.mirror == nil {
		return
	}
	if err := s.mirror.m.Step(context.WithoutCancel(ctx)); err != nil {
		s.cfg.Log.Error().Err(err).Msg("metadata mirror step after a purge failed")
	}
}

// mirrorCollector exports the mirror's state at scrape time.
type mirrorCollector struct{ s *Server }

var (
	mirrorLagDesc = prometheus.NewDesc("tusk_meta_mirror_lag_seconds",
		"Seconds since the time before which every acknowledged write is durable in the backing store's metadata mirror.", nil, nil)
	mirrorBytesDesc = prometheus.NewDesc("tusk_meta_mirror_bytes",
		"Bytes of the metadata mirror's segments in the backing store.", nil, nil)
	mirrorSegsDesc = prometheus.NewDesc("tusk_meta_mirror_segments",
		"Segments of the metadata mirror (one full checkpoint and the incremental ones after it).", nil, nil)
	mirrorFailDesc = prometheus.NewDesc("tusk_meta_mirror_failing",
		"1 when the metadata mirror's last step failed.", nil, nil)
)

func (c mirrorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- mirrorLagDesc
	ch <- mirrorBytesDesc
	ch <- mirrorSegsDesc
	ch <- mirrorFailDesc
}

func (c mirrorCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.mirror.m.Status()
	lag := 0.0
	if !st.Through.IsZero() {
		lag = time.Since(st.Through).Seconds()
	}
	failing := 0.0
	if st.LastError != "" {
		failing = 1
	}
	ch <- prometheus.MustNewConstMetric(mirrorLagDesc, prometheus.GaugeValue, lag)
	ch <- prometheus.MustNewConstMetric(mirrorBytesDesc, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(mirrorSegsDesc, prometheus.GaugeValue, float64(st.Segments))
	ch <- prometheus.MustNewConstMetric(mirrorFailDesc, prometheus.GaugeValue, failing)
}

// registerMirrorMetrics adds the mirror's metrics to the registry.
func (s *Server) registerMirrorMetrics() {
	if s.mirror != nil {
		s.reg.MustRegister(mirrorCollector{s})
	}
}
