package apiv1

// MirrorStatus is GET /mirror and POST /mirror/sync: how far the copy of
// the metadata in the backing store is (docs/operations.md).
type MirrorStatus struct {
	// Enabled is false when the gateway runs without the mirror.
	Enabled bool `json:"enabled"`
	// IntervalSeconds is the time between two mirror steps.
	IntervalSeconds float64 `json:"interval_seconds"`
	// Through: every write acknowledged before this time (RFC 3339) is
	// durable in the backing store. Empty before the first step.
	Through string `json:"through,omitempty"`
	// LagSeconds is now minus Through: how far behind the mirror is.
	LagSeconds float64 `json:"lag_seconds"`
	Segments   int     `json:"segments"`
	Bytes      int64   `json:"bytes"`
	// LastFull is the Through of the current full checkpoint.
	LastFull     string  `json:"last_full,omitempty"`
	Steps        int64   `json:"steps"`
	LastDuration float64 `json:"last_duration_seconds"`
	LastError    string  `json:"last_error,omitempty"`
	LastErrorAt  string  `json:"last_error_at,omitempty"`
}
