package disk

// SetTmpfile switches d between unnamed O_TMPFILE files (on) and named
// temporary files (off), so tests cover both write paths.
func SetTmpfile(d *Driver, on bool) { d.tmpfile.Store(on) }

// UsesTmpfile reports whether d writes unnamed O_TMPFILE files.
func UsesTmpfile(d *Driver) bool { return d.tmpfile.Load() }
