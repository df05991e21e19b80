package disk

// SetTmpfile switches d between unnamed O_TMPFILE files (on) and named
// temporary files (off), so tests cover both write paths.
func SetTmpfile(d *Driver, on bool) { d.tmpfile.Store(on) }

// UsesTmpfile reports whether d writes unnamed O_TMPFILE files.
func UsesTmpfile(d *Driver) bool { return d.tmpfile.Load() }

// MarkFresh marks dir as a directory whose entry is not yet durable, as
// a concurrent writer's mkdirs does before its parent fsync.
func MarkFresh(d *Driver, dir string) { d.fresh.Store(dir, struct{}{}) }
