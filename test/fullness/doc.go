// Package fullness fills a real, small file system under a real `tusk
// serve` (SPEC §9: writes are refused below a free-space floor, before the
// disk fills; issue 13):
//
//	go test -count=1 ./test/fullness/
//
// fullness_test.go mounts a tmpfs of 80 MiB as the data directory (it
// needs root, as CI has; without root it skips and says so), builds the
// `tusk` binary (or takes $TUSK_BIN), and PUTs 1 MiB objects until the
// gateway refuses them, once with the default kind of floor (--min-free
// 8 MiB) and once with the floor off (--min-free 0), so that the blob
// store and Badger meet ENOSPC themselves. It then checks that the refusal
// is a clear 507 InsufficientStorage, that the server did not die, that
// every acknowledged write reads back byte for byte and nothing else is
// listed, that the same holds after a restart on the full file system, and
// that writes go again once the tmpfs is grown.
package fullness
