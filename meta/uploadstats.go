package meta

import (
	"context"
	"time"

	"github.com/tusk-data/tusk/meta/kv"
)

// OpenUploadTimes returns when each multipart upload still in flight (not
// completed, not aborted) was initiated, in every repo; the gateway's
// tusk_multipart_uploads_open metric buckets them by age. Uploads cut off
// by a crash are among them until GC aborts them (Config.UploadTTL).
// Cost: one scan of the upload records, skipping their parts.
func (s *Store) OpenUploadTimes(ctx context.Context) ([]time.Time, error) {
	var out []time.Time
	err := s.view(func(txn kv.Reader) error {
		return s.scanUploads(ctx, txn, pUpload, func(u *Upload) error {
			if u.Done == nil {
				out = append(out, u.Initiated)
			}
			return nil
		})
	})
	return out, err
}
