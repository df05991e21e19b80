package s3

import (
	"context"

	"github.com/minio/minio-go/v7"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
)

var _ blob.Composer = (*Driver)(nil)

// composeThreads is how many server-side part copies of one Compose run at
// once.
const composeThreads = 4

// Compose implements blob.Composer with the backend's own multipart upload:
// ComposeObject starts an upload at dst, copies each source into it as a
// part server-side (UploadPartCopy; a source above 5 GiB would be split
// into several) and completes it, so no byte passes through Tusk. A single
// source up to 5 GiB is a plain server-side copy (CopyObject). S3 needs
// every source but the last to be at least 5 MiB, which S3's multipart
// rules guarantee for the parts of an upload; minio-go refuses others
// before sending anything (errs.Invalid). dst appears only when the upload
// completes, so a failed Compose leaves it as it was (the failed upload is
// aborted). Errors: errs.Invalid for bad keys or no source; errs.NotExist
// when a source is absent; otherwise the classified server error.
func (d *Driver) Compose(ctx context.Context, dst string, srcs []string) error {
	const op = "blob/s3.Compose"
	dn, err := d.objectName(dst)
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		return errs.E(op, errs.Invalid, "no source to compose")
	}
	from := make([]minio.CopySrcOptions, len(srcs))
	for i, src := range srcs {
		sn, err := d.objectName(src)
		if err != nil {
			return err
		}
		from[i] = minio.CopySrcOptions{Bucket: d.bucket, Object: sn}
	}
	if err := ctx.Err(); err != nil {
		return classify(op, err)
	}
	to := minio.CopyDestOptions{Bucket: d.bucket, Object: dn, NumThreads: composeThreads}
	if len(from) == 1 {
		oi, err := d.c.StatObject(ctx, d.bucket, from[0].Object, minio.StatObjectOptions{})
		if err != nil {
			return classify(op, err)
		}
		if oi.Size <= maxCopySize {
			_, err = d.c.CopyObject(ctx, to, from[0])
			return classify(op, err)
		}
	}
	_, err = d.c.ComposeObject(ctx, to, from...)
	return classify(op, err)
}
