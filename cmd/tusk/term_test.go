//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the master (what a terminal
// emulator reads and writes) and the slave (the program's terminal).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pty slave: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func echoOn(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("reading the terminal's mode: %v", err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// TestReadSecretDoesNotEcho types a secret on a real pseudo-terminal: it is
// read, nothing of it is echoed back to the screen, and the terminal echoes
// again afterwards.
func TestReadSecretDoesNotEcho(t *testing.T) {
	master, slave := openPTY(t)
	if !echoOn(t, slave) {
		t.Fatal("a new pty should echo")
	}
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := readSecret(slave)
		done <- result{s, err}
	}()
	// A keystroke typed before readSecret turned echo off would be echoed:
	// wait for the terminal's mode to change. No event tells of it, so the
	// mode is polled, with a deadline.
	for deadline := time.Now().Add(10 * time.Second); echoOn(t, slave); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("readSecret did not turn the terminal's echo off within 10s")
		}
	}
	const secret = "hunter2-s3cr3t"
	if _, err := master.WriteString(secret + "\n"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.s != secret {
		t.Fatalf("readSecret = %q, %v; want %q", r.s, r.err, secret)
	}
	if !echoOn(t, slave) {
		t.Fatal("readSecret left the terminal's echo off")
	}
	// Echo is back: a marker typed now comes back on the screen, after
	// whatever was echoed before it, which must not hold the secret.
	if _, err := master.WriteString("marker\n"); err != nil {
		t.Fatal(err)
	}
	var screen strings.Builder
	rd := bufio.NewReader(master)
	for !strings.Contains(screen.String(), "marker") {
		line, err := rd.ReadString('\n')
		screen.WriteString(line)
		if err != nil {
			t.Fatalf("reading the screen: %v (so far %q)", err, screen.String())
		}
	}
	if strings.Contains(screen.String(), secret) {
		t.Fatalf("the secret was echoed: screen %q", screen.String())
	}
}
