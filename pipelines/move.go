package pipelines

// moveOutputs bounds the outputs moved from the staging commit into the
// job's commit in one step: the coordinator stops adding finished datums
// to a batch once their outputs reach it (a batch holds at least one
// datum, so it holds at most moveOutputs-1 outputs plus its last datum's).
// Each step holds its datums' staged entries, changes and records in
// memory, so this bounds the step's memory by the outputs of a datum, not
// of every datum finished meanwhile.
var moveOutputs = 2000

// moveHook, set by tests, sees every batch of results before it is moved.
var moveHook func(batch []Result)
