// Package large holds Tusk's large-object tests, run without -race:
//
//	go test -count=1 ./test/large/
//
// large_test.go streams a 300 MiB object through a single PutObject into an
// in-process gateway, reads it back whole and by range, and checks that the
// process's Go heap does not grow with the object (streams stay streams).
package large
