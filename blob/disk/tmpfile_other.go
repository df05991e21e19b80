//go:build !linux

package disk

import (
	"errors"
	"os"
)

// tmpfileSupported: no O_TMPFILE off Linux; Put writes a named temporary
// file instead.
const tmpfileSupported = false

var errNoTmpfile = errors.New("O_TMPFILE is not supported on this system")

func openTmpfile(string) (*os.File, error) { return nil, errNoTmpfile }

func fdPath(f *os.File) string { return f.Name() }

func linkFile(*os.File, string) error { return errNoTmpfile }
