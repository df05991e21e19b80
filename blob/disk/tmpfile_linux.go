//go:build linux

package disk

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// tmpfileSupported: this system may have O_TMPFILE; Open probes whether
// root's file system does.
const tmpfileSupported = true

// openTmpfile opens a new, unnamed regular file (O_TMPFILE) on dir's file
// system, readable and writable, mode 0600. It is freed on close (or after
// a crash) unless linkFile gives it a name first.
func openTmpfile(dir string) (*os.File, error) {
	return os.OpenFile(dir, os.O_RDWR|unix.O_TMPFILE, 0o600)
}

// fdPath is the /proc path through which the open file f can be linked
// (and read, while f is open).
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// linkFile gives the open file f (an O_TMPFILE one) the name newpath,
// with linkat(2) through /proc/self/fd (AT_EMPTY_PATH would need
// CAP_DAC_READ_SEARCH). It fails with EEXIST when newpath exists, which it
// leaves as it was.
func linkFile(f *os.File, newpath string) error {
	if err := unix.Linkat(unix.AT_FDCWD, fdPath(f), unix.AT_FDCWD, newpath, unix.AT_SYMLINK_FOLLOW); err != nil {
		return &os.LinkError{Op: "link", Old: "temporary file", New: newpath, Err: err}
	}
	return nil
}
