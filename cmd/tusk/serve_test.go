package main

import (
	"testing"
	"time"

	blobs3 "github.com/tusk-data/tusk/blob/s3"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/pipelines"
)

// The serve flags whose 0 turns a bound off reach gateway.Config as
// negative (off); no flag keeps the defaults.
func TestServeZeroMeansOff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		minFree  int64
		s3, datm time.Duration
	}{
		{"defaults", nil, gateway.DefaultMinFree, blobs3.DefaultTimeout, pipelines.DefaultDatumTimeout},
		{"zeros", []string{"--min-free", "0", "--s3-timeout", "0", "--pipeline-datum-timeout", "0"}, -1, -1, -1},
		{"values", []string{"--min-free", "4096", "--s3-timeout", "5s", "--pipeline-datum-timeout", "2h"}, 4096, 5 * time.Second, 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &serveOptions{}
			cmd := newServeCmdWith(&rootOptions{}, o)
			if err := cmd.Flags().Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			o.zeroMeansOff()
			if o.cfg.MinFree != tc.minFree || o.cfg.S3.Timeout != tc.s3 || o.cfg.Pipelines.DatumTimeout != tc.datm {
				t.Errorf("min free %d, s3 timeout %v, datum timeout %v; want %d, %v, %v",
					o.cfg.MinFree, o.cfg.S3.Timeout, o.cfg.Pipelines.DatumTimeout, tc.minFree, tc.s3, tc.datm)
			}
		})
	}
}

// The request-limit flags reach gateway.Config: no flag keeps the
// defaults, 0 turns a limit off (negative in gateway.Config).
func TestServeLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		name               string
		args               []string
		max                int
		body, header, idle time.Duration
	}{
		{"defaults", nil, gateway.DefaultMaxRequests, gateway.DefaultBodyTimeout, gateway.DefaultReadHeaderTimeout, gateway.DefaultIdleTimeout},
		{"zeros", []string{"--max-requests", "0", "--body-timeout", "0", "--read-header-timeout", "0", "--idle-timeout", "0"}, -1, -1, -1, -1},
		{"values", []string{"--max-requests", "8", "--body-timeout", "5s", "--read-header-timeout", "2s", "--idle-timeout", "1m"}, 8, 5 * time.Second, 2 * time.Second, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &serveOptions{}
			cmd := newServeCmdWith(&rootOptions{}, o)
			if err := cmd.Flags().Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			o.zeroMeansOff()
			c := o.cfg
			if c.MaxRequests != tc.max || c.BodyTimeout != tc.body || c.ReadHeaderTimeout != tc.header || c.IdleTimeout != tc.idle {
				t.Errorf("max %d body %v header %v idle %v; want %d %v %v %v", c.MaxRequests, c.BodyTimeout, c.ReadHeaderTimeout, c.IdleTimeout,
					tc.max, tc.body, tc.header, tc.idle)
			}
		})
	}
}
