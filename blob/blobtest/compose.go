package blobtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strconv"
	"testing"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
)

// minPart is S3's minimum size of every part but the last: composing
// drivers over S3 refuse smaller ones.
const minPart = 5 << 20

// testDriverCompose checks blob.Composer on drivers that implement it.
func testDriverCompose(t *testing.T, d blob.Driver) {
	c, ok := d.(blob.Composer)
	if !ok {
		t.Skip("driver does not implement blob.Composer (Store.Compose copies through it)")
	}
	ctx := ctxFor(t)
	a, b := data(40, minPart), data(41, 1000)
	put(t, d, "parts/a", a)
	put(t, d, "parts/b", b)
	if err := c.Compose(ctx, "out/ab", []string{"parts/a", "parts/b"}); err != nil {
		t.Fatalf("Compose: %v", err)
	}
	want := append(slices.Clone(a), b...)
	if got := get(t, d, "out/ab", 0, -1); !bytes.Equal(got, want) {
		t.Fatalf("Compose: %d bytes, not the concatenation of %d", len(got), len(want))
	}
	if got := get(t, d, "out/ab", minPart-5, 10); !bytes.Equal(got, want[minPart-5:minPart+5]) {
		t.Errorf("range across the part boundary differs")
	}
	// Sources stay; dst is replaced.
	if got := get(t, d, "parts/b", 0, -1); !bytes.Equal(got, b) {
		t.Errorf("source changed by Compose")
	}
	if err := c.Compose(ctx, "out/ab", []string{"parts/b"}); err != nil {
		t.Fatalf("Compose of one source over an existing dst: %v", err)
	}
	if got := get(t, d, "out/ab", 0, -1); !bytes.Equal(got, b) {
		t.Errorf("dst not replaced by the one-source Compose")
	}
	// A missing source: an error, dst untouched, nothing new.
	err := c.Compose(ctx, "out/ab", []string{"parts/a", "parts/missing"})
	wantKind(t, "Compose with a missing source", err, errs.NotExist)
	if got := get(t, d, "out/ab", 0, -1); !bytes.Equal(got, b) {
		t.Errorf("failed Compose changed dst")
	}
	err = c.Compose(ctx, "out/new", []string{"parts/missing"})
	wantKind(t, "Compose of a missing source", err, errs.NotExist)
	wantAbsent(t, d, "out/new")
	wantKind(t, "Compose to a bad key", c.Compose(ctx, "../x", []string{"parts/a"}), errs.Invalid)
	wantKind(t, "Compose from a bad key", c.Compose(ctx, "out/x", []string{"a//b"}), errs.Invalid)
	wantKind(t, "Compose of nothing", c.Compose(ctx, "out/x", nil), errs.Invalid)
	if got := keys(list(t, d, "")); !slices.Equal(got, []string{"out/ab", "parts/a", "parts/b"}) {
		t.Errorf("keys after Compose = %q", got)
	}
}

// composeAddr is the documented address: HMAC-SHA-256(key, binary part
// hashes || decimal count), recomputed here independently.
func composeAddr(t *testing.T, key []byte, hashes []string) string {
	t.Helper()
	var msg []byte
	for _, h := range hashes {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		msg = append(msg, b...)
	}
	msg = append(msg, strconv.Itoa(len(hashes))...)
	// HMAC by hand (RFC 2104) so the test does not share code with blob.
	k := key
	if len(k) > 64 {
		s := sha256.Sum256(k)
		k = s[:]
	}
	var ipad, opad [64]byte
	copy(ipad[:], k)
	copy(opad[:], k)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	in := sha256.Sum256(append(ipad[:], msg...))
	out := sha256.Sum256(append(opad[:], in[:]...))
	return hex.EncodeToString(out[:])
}

func testStoreCompose(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	ctx := ctxFor(t)
	key := []byte("blobtest compose key")
	s.SetComposeKey(key)
	if !s.HasComposeKey() {
		t.Fatal("HasComposeKey after SetComposeKey = false")
	}
	parts := [][]byte{data(50, minPart+1), data(51, minPart), data(52, 1234)}
	var hashes []string
	var sizes []int64
	var whole []byte
	for _, p := range parts {
		hashes = append(hashes, storePut(t, s, p, int64(len(p))).Hash)
		sizes = append(sizes, int64(len(p)))
		whole = append(whole, p...)
	}
	info, err := s.Compose(ctx, hashes, sizes)
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	want := composeAddr(t, key, hashes)
	if info.Hash != want || info.Size != int64(len(whole)) || info.MD5 != nil {
		t.Fatalf("Compose Info = {%s %d %x}, want {%s %d nil}", info.Hash, info.Size, info.MD5, want, len(whole))
	}
	if addr, err := blob.ComposeAddress(key, hashes); err != nil || addr != want {
		t.Errorf("ComposeAddress = %s, %v; want %s", addr, err, want)
	}
	if info.Hash == sum256(whole) {
		t.Errorf("composed address equals the SHA-256 of the content: no domain separation")
	}
	if got := open(t, s, info.Hash, 0, -1); !bytes.Equal(got, whole) {
		t.Fatalf("composed blob: %d bytes, not the concatenation of the parts", len(got))
	}
	edge := int64(minPart + 1)
	if got := open(t, s, info.Hash, edge-3, minPart+10); !bytes.Equal(got, whole[edge-3:edge+minPart+7]) {
		t.Errorf("range across parts differs")
	}
	a1, err := d.Stat(ctx, blob.Key(info.Hash))
	if err != nil {
		t.Fatal(err)
	}
	// Again: nothing is rewritten.
	again, err := s.Compose(ctx, hashes, sizes)
	if err != nil || again.Hash != info.Hash || again.Size != info.Size {
		t.Fatalf("second Compose = %+v, %v", again, err)
	}
	if a2, err := d.Stat(ctx, blob.Key(info.Hash)); err != nil || !a2.ModTime.Equal(a1.ModTime) {
		t.Errorf("second Compose rewrote the blob (%v -> %v, %v)", a1.ModTime, a2.ModTime, err)
	}
	// One part: its own address, same bytes as the part.
	one, err := s.Compose(ctx, hashes[2:], sizes[2:])
	if err != nil {
		t.Fatalf("Compose of one part: %v", err)
	}
	if one.Hash == hashes[2] || one.Hash != composeAddr(t, key, hashes[2:]) {
		t.Errorf("one-part address %s", one.Hash)
	}
	if got := open(t, s, one.Hash, 0, -1); !bytes.Equal(got, parts[2]) {
		t.Errorf("one-part composed blob differs from the part")
	}
	// Another key, another address.
	s2 := blob.New(d)
	s2.SetComposeKey([]byte("another key"))
	other, err := s2.Compose(ctx, hashes[2:], sizes[2:])
	if err != nil || other.Hash == one.Hash {
		t.Errorf("Compose under another key = %s, %v; want an address other than %s", other.Hash, err, one.Hash)
	}
	wantClean(t, d, append(slices.Clone(hashes), info.Hash, one.Hash, other.Hash)...)

	// Refusals: nothing written.
	_, err = s.Compose(ctx, nil, nil)
	wantKind(t, "Compose of no parts", err, errs.Invalid)
	_, err = s.Compose(ctx, hashes, sizes[:2])
	wantKind(t, "Compose with fewer sizes", err, errs.Invalid)
	_, err = s.Compose(ctx, []string{"zz"}, []int64{1})
	wantKind(t, "Compose of a bad hash", err, errs.Invalid)
	_, err = s.Compose(ctx, hashes[2:], []int64{-1})
	wantKind(t, "Compose with a negative size", err, errs.Invalid)
	missing := sum256([]byte("never stored"))
	_, err = s.Compose(ctx, []string{hashes[0], missing}, []int64{sizes[0], 12})
	wantKind(t, "Compose with a missing part", err, errs.NotExist)
	_, err = s.Compose(ctx, []string{hashes[1], hashes[2]}, []int64{sizes[1], sizes[2] + 1})
	wantKind(t, "Compose with a wrong size", err, errs.Internal)
	// The blob the wrong-size call composed is the true concatenation (its
	// address says which parts); only the caller's sizes were wrong.
	cleanup, _ := blob.ComposeAddress(key, []string{hashes[1], hashes[2]})
	if err := s.Delete(ctx, cleanup); err != nil {
		t.Fatal(err)
	}
	wantClean(t, d, append(slices.Clone(hashes), info.Hash, one.Hash, other.Hash)...)
}

// testStoreComposeByCopy runs Store.Compose over the driver with its
// Composer hidden: the generic path that streams parts through a temporary
// key.
func testStoreComposeByCopy(t *testing.T, d blob.Driver) {
	s := blob.New(hideComposer{d})
	ctx := ctxFor(t)
	parts := [][]byte{data(60, 3<<20+7), data(61, 10), data(62, 2<<20)}
	var hashes []string
	var sizes []int64
	h := sha256.New()
	for _, p := range parts {
		hashes = append(hashes, storePut(t, s, p, int64(len(p))).Hash)
		sizes = append(sizes, int64(len(p)))
		h.Write(p)
	}
	info, err := s.Compose(ctx, hashes, sizes)
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	rc, err := s.Open(ctx, info.Hash, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	_, err = io.Copy(got, rc)
	rc.Close()
	if err != nil || !bytes.Equal(got.Sum(nil), h.Sum(nil)) {
		t.Fatalf("composed blob differs from the concatenation (%v)", err)
	}
	missing := sum256([]byte("never stored either"))
	_, err = s.Compose(ctx, []string{hashes[0], missing}, []int64{sizes[0], 5})
	if err == nil {
		t.Errorf("Compose with a missing part succeeded")
	}
	wantClean(t, d, append(slices.Clone(hashes), info.Hash)...)
}

// hideComposer is a Driver without the Composer method.
type hideComposer struct{ blob.Driver }
