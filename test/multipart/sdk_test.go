package multipart

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/crc64nvme"

	"github.com/tusk-data/tusk/gateway"
)

// TestTransferManager: aws-sdk-go-v2's transfer manager uploads 256 MiB in
// parallel 8 MiB parts with CRC32 checksums (over HTTPS: aws-chunked bodies
// with trailing checksums), then downloads it back by part (partNumber
// GETs, x-amz-mp-parts-count); every byte must come back.
func TestTransferManager(t *testing.T) {
	const size = 256 * mib
	e := newEnv(t, gateway.Config{})
	e.mkBucket("tmgr")
	path, want := genFile(t, e.dir, "up.bin", 1, size)
	ctx := ctxFor(t, 4*time.Minute)
	c := e.sdk(true)
	tm := transfermanager.New(c, func(o *transfermanager.Options) {
		o.Concurrency = 5
		o.PartSizeBytes = 8 * mib
	})
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	up, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String("tmgr"), Key: aws.String("dir/big.bin"),
		Body: f, ChecksumAlgorithm: tmtypes.ChecksumAlgorithmCrc32, ContentType: aws.String("application/x-big")})
	if err != nil {
		t.Fatalf("UploadObject: %v", err)
	}
	el := time.Since(start)
	t.Logf("transfer manager upload of %d MiB: %v (%.0f MB/s)", size/mib, el.Round(time.Millisecond), float64(size)/1e6/el.Seconds())
	if !strings.HasSuffix(aws.ToString(up.ETag), `-32"`) || !strings.HasSuffix(aws.ToString(up.ChecksumCRC32), "-32") ||
		up.ChecksumType != tmtypes.ChecksumTypeComposite || aws.ToString(up.VersionID) == "" {
		t.Fatalf("UploadObject: ETag %s CRC32 %s type %s version %s", aws.ToString(up.ETag), aws.ToString(up.ChecksumCRC32), up.ChecksumType, aws.ToString(up.VersionID))
	}

	// Download by part.
	dst, err := os.Create(filepath.Join(e.dir, "down.bin"))
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	down, err := tm.DownloadObject(ctx, &transfermanager.DownloadObjectInput{Bucket: aws.String("tmgr"), Key: aws.String("dir/big.bin"), WriterAt: dst})
	if err != nil {
		t.Fatalf("DownloadObject: %v", err)
	}
	dst.Close()
	t.Logf("transfer manager download by part: %v", time.Since(start).Round(time.Millisecond))
	if aws.ToInt32(down.PartsCount) != 32 || aws.ToString(down.ETag) != aws.ToString(up.ETag) {
		t.Fatalf("DownloadObject: parts %d ETag %s", aws.ToInt32(down.PartsCount), aws.ToString(down.ETag))
	}
	if got := fileSHA(t, dst.Name()); got != want {
		t.Fatalf("downloaded bytes differ: %s, want %s", got, want)
	}
	os.Remove(dst.Name())

	// Parts one by one with GetObject?partNumber: sizes, count, bytes.
	plain := e.sdk(false)
	var got []string
	var total int64
	for n := int32(1); n <= 32; n++ {
		out, err := plain.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tmgr"), Key: aws.String("dir/big.bin"), PartNumber: aws.Int32(n)})
		if err != nil {
			t.Fatalf("GetObject part %d: %v", n, err)
		}
		sum, m := readerSHA(t, io.LimitReader(out.Body, 8*mib+1))
		out.Body.Close()
		wantRange := fmt.Sprintf("bytes %d-%d/%d", total, total+8*mib-1, size)
		if m != 8*mib || aws.ToInt32(out.PartsCount) != 32 || aws.ToString(out.ContentRange) != wantRange {
			t.Fatalf("part %d: %d bytes, parts count %d, range %s (want %s)", n, m, aws.ToInt32(out.PartsCount), aws.ToString(out.ContentRange), wantRange)
		}
		got = append(got, sum)
		total += m
	}
	if total != size {
		t.Fatalf("parts add up to %d", total)
	}
	h, err := plain.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tmgr"), Key: aws.String("dir/big.bin"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(h.ChecksumCRC32) != aws.ToString(up.ChecksumCRC32) || h.ChecksumType != types.ChecksumTypeComposite ||
		aws.ToString(h.ContentType) != "application/x-big" || aws.ToInt64(h.ContentLength) != size {
		t.Fatalf("HeadObject: %+v %v", h, err)
	}
	lu, err := plain.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("tmgr")})
	if err != nil || len(lu.Uploads) != 0 {
		t.Fatalf("uploads left: %+v %v", lu, err)
	}
}

// TestFullObjectChecksum: a FULL_OBJECT CRC64NVME upload (the transfer
// manager over HTTPS) and a FULL_OBJECT CRC32C one read back whole with
// the SDK validating the checksum: the server's combination of the part
// CRCs must equal the CRC of the bytes.
func TestFullObjectChecksum(t *testing.T) {
	const size = 40*mib + 12345
	e := newEnv(t, gateway.Config{})
	e.mkBucket("full")
	path, want := genFile(t, e.dir, "full.bin", 2, size)
	ctx := ctxFor(t, 3*time.Minute)
	crc := crc64nvme.New()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(crc, f); err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], crc.Sum64())
	wantCRC := base64.StdEncoding.EncodeToString(b[:])

	tm := transfermanager.New(e.sdk(true), func(o *transfermanager.Options) { o.PartSizeBytes = 6 * mib })
	for _, tc := range []struct {
		key  string
		algo tmtypes.ChecksumAlgorithm
	}{{"crc64nvme", tmtypes.ChecksumAlgorithm("CRC64NVME")}, {"crc32c", tmtypes.ChecksumAlgorithm(tmtypes.ChecksumAlgorithmCrc32c)}} {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		up, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String("full"), Key: aws.String(tc.key),
			Body: f, ChecksumAlgorithm: tc.algo, ChecksumType: tmtypes.ChecksumTypeFullObject})
		if err != nil {
			t.Fatalf("UploadObject %s: %v", tc.key, err)
		}
		if up.ChecksumType != tmtypes.ChecksumTypeFullObject || !strings.HasSuffix(aws.ToString(up.ETag), `-7"`) {
			t.Fatalf("UploadObject %s: type %s ETag %s", tc.key, up.ChecksumType, aws.ToString(up.ETag))
		}
		if tc.algo == tmtypes.ChecksumAlgorithm("CRC64NVME") && aws.ToString(up.ChecksumCRC64NVME) != wantCRC {
			t.Fatalf("CRC64NVME %s, want %s", aws.ToString(up.ChecksumCRC64NVME), wantCRC)
		}
		for _, useTLS := range []bool{false, true} {
			out, err := e.sdk(useTLS).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("full"), Key: aws.String(tc.key), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatalf("GetObject %s: %v", tc.key, err)
			}
			// The SDK validates the full-object checksum while reading.
			sum, n := readerSHA(t, out.Body)
			out.Body.Close()
			if sum != want || n != size || out.ChecksumType != types.ChecksumTypeFullObject {
				t.Fatalf("GetObject %s: %d bytes, type %s", tc.key, n, out.ChecksumType)
			}
		}
	}
}

// TestRestartMidUpload: an upload survives a restart of the server between
// its parts; GC after the restart keeps its parts; it then completes.
func TestRestartMidUpload(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	e.mkBucket("restart")
	ctx := ctxFor(t, 3*time.Minute)
	parts := [][]byte{make([]byte, 5*mib), make([]byte, 6*mib), []byte("the last part")}
	for i, p := range parts[:2] {
		for j := range p {
			p[j] = byte(i*31 + j*7)
		}
	}
	c := e.sdk(false)
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("restart"), Key: aws.String("k"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, Metadata: map[string]string{"kept": "across restarts"}})
	if err != nil {
		t.Fatal(err)
	}
	id := cr.UploadId
	var done []types.CompletedPart
	upload := func(c *s3.Client, n int) {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("restart"), Key: aws.String("k"), UploadId: id,
			PartNumber: aws.Int32(int32(n)), Body: strings.NewReader(string(parts[n-1])), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", n, err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(n)), ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256})
	}
	upload(c, 1)
	upload(c, 2)

	e.restart()
	c = e.sdk(false)
	if _, err := e.srv.GC(ctx, gateway.GCOptions{Retention: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("restart"), Key: aws.String("k"), UploadId: id})
	if err != nil || len(lp.Parts) != 2 || aws.ToInt64(lp.Parts[1].Size) != 6*mib || lp.ChecksumAlgorithm != types.ChecksumAlgorithmSha256 {
		t.Fatalf("ListParts after restart: %+v %v", lp, err)
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("restart")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(id) {
		t.Fatalf("ListMultipartUploads after restart: %+v %v", lu, err)
	}
	upload(c, 3)
	res, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("restart"), Key: aws.String("k"),
		UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload after restart: %v", err)
	}
	if !strings.HasSuffix(aws.ToString(res.ChecksumSHA256), "-3") || !strings.HasSuffix(aws.ToString(res.ETag), `-3"`) {
		t.Fatalf("Complete: %+v", res)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("restart"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != string(parts[0])+string(parts[1])+string(parts[2]) || out.Metadata["kept"] != "across restarts" {
		t.Fatalf("object after restart: %d bytes, metadata %v", len(body), out.Metadata)
	}
	// Restart again: the completion is durable; retrying it answers the same.
	e.restart()
	c = e.sdk(false)
	again, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("restart"), Key: aws.String("k"),
		UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil || aws.ToString(again.VersionId) != aws.ToString(res.VersionId) {
		t.Fatalf("retried completion after restart: %+v %v", again, err)
	}
}
