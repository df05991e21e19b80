// Package crash holds Tusk's crash-consistency and durability tests. They
// run without -race:
//
//	go test -count=1 ./test/crash/
//
// crash_test.go builds the real `tusk` binary (or takes $TUSK_BIN), runs it
// on one data directory, SIGKILLs it in the middle of concurrent writes,
// round after round, and checks after every restart that every acknowledged
// write is still there byte for byte and that nothing half-written is
// visible (SPEC §3, §9).
//
// killloop_test.go runs the model-checked kill -9 loop of test/soak
// (soak.KillLoop): PUT, multipart, DeleteObjects, DeleteObject, CopyObject
// and branch creation under kill -9, checked against the model after every
// restart; 10 cycles here, `make killloop` runs 50.
//
// fsync_test.go proves the order of the injected sync events of an
// in-process gateway: before a PutObject is answered, the blob's file and
// its directory were fsynced and then the metadata was synced.
package crash
