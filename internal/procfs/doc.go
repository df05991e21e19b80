// Package procfs reads what Tusk needs of Linux's /proc: a process's parent,
// session, state and start time (the start time tells a process from a later
// one that reused its pid). The pipelines' local runner uses it to reap the
// workers a dead gateway left, and the worker to find its stray descendants.
// On other systems Read finds nothing and Each visits nothing.
package procfs
