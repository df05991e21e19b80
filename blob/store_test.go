package blob_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"runtime"
	"testing"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
)

// sinkDriver consumes Puts without storing them: enough for Store.Put to
// run end to end, to measure the Store's own memory.
type sinkDriver struct {
	readBuf int // > 0: consume with Read calls of this size; 0: io.Copy (WriteTo)
}

func (d sinkDriver) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if d.readBuf == 0 {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	buf := make([]byte, d.readBuf)
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (sinkDriver) Get(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, errs.E("sink", errs.NotExist, "no")
}

func (sinkDriver) Stat(context.Context, string) (blob.Attrs, error) {
	return blob.Attrs{}, errs.E("sink", errs.NotExist, "no")
}
func (sinkDriver) Delete(context.Context, string) error       { return nil }
func (sinkDriver) Move(context.Context, string, string) error { return nil }
func (sinkDriver) List(context.Context, string, func(blob.Attrs) error) error {
	return nil
}
func (sinkDriver) Close() error { return nil }

// TestPutMemoryBounded checks that Store.Put's memory does not grow with
// the object: a 64 MiB stream allocates a few 1 MiB chunks, not the stream.
func TestPutMemoryBounded(t *testing.T) {
	size := int64(64 << 20)
	if raceEnabled {
		size = 16 << 20
	}
	for _, tc := range []struct {
		name string
		d    sinkDriver
	}{
		{"WriteTo", sinkDriver{}},
		{"small reads", sinkDriver{readBuf: 4096}},
		{"large reads", sinkDriver{readBuf: 3 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := blob.New(tc.d)
			want := sha256.New()
			if _, err := io.Copy(want, &counterReader{left: size, run: 7}); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			info, err := s.Put(context.Background(), &counterReader{left: size, run: 7}, blob.PutOptions{Size: size})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if info.Hash != hex.EncodeToString(want.Sum(nil)) || info.Size != size {
				t.Errorf("Info = %s %d", info.Hash, info.Size)
			}
			alloc := after.TotalAlloc - before.TotalAlloc - uint64(tc.d.readBuf)
			t.Logf("Put of %d MiB allocated %d KiB", size>>20, alloc>>10)
			if alloc > 12<<20 && !raceEnabled {
				t.Errorf("Put of %d MiB allocated %d MiB: memory grows with the object", size>>20, alloc>>20)
			}
		})
	}
}

func TestNewNilDriverPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("New(nil) did not panic")
		}
	}()
	blob.New(nil)
}
