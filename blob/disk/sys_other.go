//go:build !unix

package disk

import (
	"errors"
	"io/fs"
	"syscall"
)

// freeBytes is unknown off unix: -1 disables the free-space floor.
func freeBytes(string) (int64, error) { return -1, nil }

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

func isNotDir(error) bool { return false }

func isReadOnly(error) bool { return false }

func isClash(err error) bool { return errors.Is(err, fs.ErrExist) }

// syncDirSupported: directories cannot be opened for fsync on Windows.
const syncDirSupported = false
