package pipelines

import "time"

// DefaultDatumTimeout is the gateway's default bound on one try of a datum
// whose spec sets no datum_timeout (tusk serve --pipeline-datum-timeout).
// Without a bound a hung command holds its job, and every job queued
// behind it, forever. A day leaves room for long legitimate datums (a
// training run, a large transcode) while still freeing a hung pipeline
// within a day; a pipeline that needs more sets datum_timeout itself,
// which always wins. A timed-out try counts as a failed try (datum_tries).
const DefaultDatumTimeout = 24 * time.Hour

// datumTimeout is the bound on one try of a datum of sp: its datum_timeout,
// else the service's default (0: none).
func (s *Service) datumTimeout(sp *Spec) time.Duration {
	if sp.DatumTimeout > 0 {
		return time.Duration(sp.DatumTimeout)
	}
	return max(0, s.cfg.DatumTimeout)
}
