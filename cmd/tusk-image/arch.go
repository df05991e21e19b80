package main

import (
	"os"
	"runtime"
)

var getenv = os.Getenv

// goarch is the image's architecture: the binary's (built for the host,
// or GOARCH when cross-compiling `make image GOARCH=arm64`).
func goarch() string {
	if a := getenv("GOARCH"); a != "" {
		return a
	}
	return runtime.GOARCH
}
