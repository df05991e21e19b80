//go:build unix

package disk

import (
	"errors"
	"io/fs"
	"syscall"
)

// freeBytes returns the bytes available to unprivileged users on the file
// system holding path.
func freeBytes(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

func isReadOnly(err error) bool { return errors.Is(err, syscall.EROFS) }

// isClash reports a file where a directory is needed or the reverse.
func isClash(err error) bool {
	return errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, fs.ErrExist)
}

// syncDirSupported: directories can be fsynced here.
const syncDirSupported = true
