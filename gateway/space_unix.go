//go:build unix

package gateway

import "syscall"

// freeBytes returns the bytes available to unprivileged users on the file
// system holding path (false when it cannot tell).
func freeBytes(path string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
