//go:build !linux

package main

import (
	"bufio"
	"os"
)

// readSecret reads a line from f (echoed: no terminal control here).
func readSecret(f *os.File) (string, error) {
	return bufio.NewReader(f).ReadString('\n')
}
