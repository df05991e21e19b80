//go:build !race

package pipelines_test

const raceOn = false
