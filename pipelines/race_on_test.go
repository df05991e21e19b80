//go:build race

package pipelines_test

// raceOn is true under -race, where the randomized tests run fewer seeds
// (the race detector slows them about tenfold).
const raceOn = true
