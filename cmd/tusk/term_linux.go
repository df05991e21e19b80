//go:build linux

package main

import (
	"bufio"
	"os"

	"golang.org/x/sys/unix"
)

// readSecret reads a line from the terminal f without echoing it.
func readSecret(f *os.File) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err == nil {
		quiet := *old
		quiet.Lflag &^= unix.ECHO
		quiet.Lflag |= unix.ICANON | unix.ISIG
		if unix.IoctlSetTermios(fd, unix.TCSETS, &quiet) == nil {
			defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
		}
	}
	return bufio.NewReader(f).ReadString('\n')
}
