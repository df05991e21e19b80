package main

import (
	"strings"
)

// target is a parsed REPO[@REF][:PATH] argument.
type target struct {
	Repo    string
	Ref     string // "" when not given
	Path    string
	HasRef  bool
	HasPath bool
}

func (t target) String() string {
	s := t.Repo
	if t.HasRef {
		s += "@" + t.Ref
	}
	if t.HasPath {
		s += ":" + t.Path
	}
	return s
}

// refOrMain is the ref, main when not given.
func (t target) refOrMain() string {
	if t.Ref == "" {
		return "main"
	}
	return t.Ref
}

// parseTarget parses REPO[@REF][:PATH]. Repo names hold no '@' or ':' and
// refs no ':', so the first '@' ends the repo and the first ':' after it
// starts the path (a path may hold any character).
func parseTarget(s string) target {
	var t target
	head, path, hasPath := strings.Cut(s, ":")
	t.Path, t.HasPath = path, hasPath
	t.Repo, t.Ref, t.HasRef = strings.Cut(head, "@")
	return t
}

// needRepo parses REPO (no ref, no path).
func needRepo(arg, what string) (string, error) {
	t := parseTarget(arg)
	if t.Repo == "" || t.HasRef || t.HasPath {
		return "", usagef("%s: want REPO, not %q", what, arg)
	}
	return t.Repo, nil
}

// needRef parses REPO@REF with a non-empty ref and no path.
func needRef(arg, form string) (target, error) {
	t := parseTarget(arg)
	if t.Repo == "" || !t.HasRef || t.Ref == "" || t.HasPath {
		return t, usagef("want %s, not %q", form, arg)
	}
	return t, nil
}

// optRef parses REPO[@REF] (ref defaults to main) with no path.
func optRef(arg, form string) (target, error) {
	t := parseTarget(arg)
	if t.Repo == "" || (t.HasRef && t.Ref == "") || t.HasPath {
		return t, usagef("want %s, not %q", form, arg)
	}
	return t, nil
}

// optPath parses REPO[@REF][:PATH].
func optPath(arg, form string) (target, error) {
	t := parseTarget(arg)
	if t.Repo == "" || (t.HasRef && t.Ref == "") {
		return t, usagef("want %s, not %q", form, arg)
	}
	return t, nil
}
