package adminapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/meta"
)

// BenchmarkAdminDiff100k times GET /api/v1/repos/big/diff between two
// branches of a 100k-key repo that differ in 10 keys, over real HTTP with
// SigV4: the cost is O(changes x log n), milliseconds, not O(repo size).
//
//	go test -run '^$' -bench AdminDiff ./gateway/
func BenchmarkAdminDiff100k(b *testing.B) {
	const n, batch = 100000, 2000
	srv := gatewaytest.Start(b, gateway.Config{})
	ctx := context.Background()
	if _, err := srv.Meta.CreateRepo(ctx, "big", "admin"); err != nil {
		b.Fatal(err)
	}
	entry := func(i int) *meta.Entry {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		return &meta.Entry{Content: hex.EncodeToString(sum[:]), Size: int64(i % 5000), ETag: hex.EncodeToString(sum[:16])}
	}
	start := time.Now()
	for i := 0; i < n; i += batch {
		changes := make([]meta.Change, batch)
		for j := range changes {
			changes[j] = meta.Change{Key: fmt.Sprintf("data/%08d.bin", i+j), Entry: entry(i + j)}
		}
		if _, err := srv.Meta.Write(ctx, meta.WriteRequest{Repo: "big", Branch: "main", Author: "admin", Changes: changes}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := srv.Meta.CreateBranch(ctx, "big", "dev", "main"); err != nil {
		b.Fatal(err)
	}
	var changes []meta.Change
	for j := 0; j < 10; j++ {
		changes = append(changes, meta.Change{Key: fmt.Sprintf("data/%08d.bin", j*9973), Entry: entry(n + j)})
	}
	if _, err := srv.Meta.Write(ctx, meta.WriteRequest{Repo: "big", Branch: "dev", Author: "admin", Changes: changes}); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d keys in %v", n, time.Since(start).Round(time.Millisecond))
	adm := newAPI(b, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		var d apiv1.DiffResult
		adm.must("GET", "/repos/big/diff?from=main&to=dev", nil, &d)
		if len(d.Entries) != 10 || d.Changed != 10 {
			b.Fatalf("diff: %d entries", len(d.Entries))
		}
	}
	per := time.Since(t0) / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(time.Millisecond), "ms/diff")
	b.Logf("diff of two 100k-key branches differing in 10 keys, through the admin API: %v", per)
}
