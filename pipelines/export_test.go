package pipelines

// SetMoveBatching sets the outputs bound of a move step and the hook that
// sees each batch, for the test's duration; it returns the restore func.
func SetMoveBatching(outputs int, hook func(batch []Result)) func() {
	o, h := moveOutputs, moveHook
	moveOutputs, moveHook = outputs, hook
	return func() { moveOutputs, moveHook = o, h }
}
