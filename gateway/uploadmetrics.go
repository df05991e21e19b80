package gateway

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// uploadAges are the age buckets of tusk_multipart_uploads_open: an
// upload is counted in the first whose bound exceeds its age.
var uploadAges = []struct {
	label string
	below time.Duration
}{
	{"lt_1h", time.Hour},
	{"1h_to_1d", 24 * time.Hour},
	{"1d_to_7d", 7 * 24 * time.Hour},
	{"ge_7d", 1<<63 - 1},
}

// uploadCollector reports the multipart uploads in flight at scrape time
// (issue 13): how many, by age, and the oldest's age. An upload whose
// client went away, or that a crash cut off, stays in flight (and in
// ListMultipartUploads) until GC aborts it after Config.UploadTTL
// (--upload-ttl, default 7 days); these series show them piling up.
type uploadCollector struct {
	s      *Server
	open   *prometheus.Desc
	oldest *prometheus.Desc
}

func newUploadCollector(s *Server) *uploadCollector {
	return &uploadCollector{s: s,
		open: prometheus.NewDesc("tusk_multipart_uploads_open",
			"Multipart uploads in flight (initiated, not completed or aborted), by age; GC aborts those older than --upload-ttl.",
			[]string{"age"}, nil),
		oldest: prometheus.NewDesc("tusk_multipart_upload_oldest_age_seconds",
			"Age of the oldest multipart upload in flight (0 when none).", nil, nil)}
}

func (c *uploadCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.oldest
}

// Collect scans the upload records (meta.OpenUploadTimes); when the scan
// fails it reports nothing (the scrape shows the series missing).
func (c *uploadCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	times, err := c.s.Meta.OpenUploadTimes(ctx)
	if err != nil {
		c.s.cfg.Log.Warn().Err(err).Msg("multipart upload metrics")
		return
	}
	now := time.Now()
	if c.s.cfg.MetaNow != nil {
		now = c.s.cfg.MetaNow()
	}
	counts := make([]int, len(uploadAges))
	var oldest time.Duration
	for _, t := range times {
		age := now.Sub(t)
		oldest = max(oldest, age)
		for i, b := range uploadAges {
			if age < b.below {
				counts[i]++
				break
			}
		}
	}
	for i, b := range uploadAges {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(counts[i]), b.label)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds())
}
