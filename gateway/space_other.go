//go:build !unix

package gateway

// freeBytes cannot tell the free space here: the metadata reserve is off.
func freeBytes(path string) (int64, bool) { return 0, false }
