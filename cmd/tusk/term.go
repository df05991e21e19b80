package main

import (
	"os"

	"golang.org/x/term"
)

// readSecret reads a line from the terminal f without echoing it, on every
// platform golang.org/x/term supports (the echo is restored before it
// returns). The line comes without its newline. Errors: f is not a
// terminal, or reading it fails.
func readSecret(f *os.File) (string, error) {
	b, err := term.ReadPassword(int(f.Fd()))
	return string(b), err
}
