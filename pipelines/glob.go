package pipelines

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Glob splits the keys of a commit into datums as Pachyderm defines it,
// over S3 keys read as '/'-separated paths:
//
//   - "/": the whole commit is one datum;
//   - "/*": each top-level file or directory is a datum ("a.png", "cats"
//     with every key under "cats/"); "/*/*": each entry one level down;
//     in general a glob of n segments matches the first n segments of a
//     key, and the datum holds every key at or under that path;
//   - "/**" (a glob with a "**" segment): each file (key) at any depth
//     that matches is its own datum.
//
// Segments take *, ?, [...] (with ! or ^ to negate), {a,b} and \ escapes;
// (...) marks capture groups for join_on ("$1").
type Glob struct {
	src    string
	re     *regexp.Regexp
	segs   int  // segments matched (prefix globs)
	files  bool // a "**" glob: datums are single keys
	groups int
}

// CompileGlob compiles a glob; it must start with '/'.
func CompileGlob(src string) (*Glob, error) {
	if !strings.HasPrefix(src, "/") {
		return nil, fmt.Errorf("glob %q must start with /", src)
	}
	g := &Glob{src: src}
	rest := strings.TrimPrefix(src, "/")
	if rest == "" {
		g.re = regexp.MustCompile(`^$`)
		return g, nil
	}
	segs := strings.Split(rest, "/")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("glob %q has an empty path segment", src)
		}
		if s == "**" {
			g.files = true
		} else if strings.Contains(s, "**") {
			return nil, fmt.Errorf("glob %q: ** must be a whole path segment", src)
		}
	}
	g.segs = len(segs)
	var re strings.Builder
	re.WriteString("^")
	depth := 0
	for i, s := range segs {
		last := i == len(segs)-1
		if s == "**" {
			switch {
			case len(segs) == 1:
				re.WriteString(`.+`)
			case last:
				re.WriteString(`.+`) // after "x/": at least one more character
			default:
				re.WriteString(`(?:.*/)?`) // zero or more segments, each with its '/'
			}
			continue
		}
		if err := segRegexp(&re, s, &depth, &g.groups); err != nil {
			return nil, fmt.Errorf("glob %q: %v", src, err)
		}
		if !last {
			re.WriteString("/")
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("glob %q: unbalanced parentheses", src)
	}
	re.WriteString("$")
	var err error
	if g.re, err = regexp.Compile(re.String()); err != nil {
		return nil, fmt.Errorf("glob %q: %v", src, err)
	}
	return g, nil
}

// segRegexp translates one path segment. Parentheses may span segments.
func segRegexp(re *strings.Builder, s string, depth, groups *int) error {
	inBrace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '*':
			re.WriteString(`[^/]*`)
		case '?':
			re.WriteString(`[^/]`)
		case '\\':
			if i+1 >= len(s) {
				return fmt.Errorf("trailing backslash")
			}
			i++
			re.WriteString(regexp.QuoteMeta(s[i : i+1]))
		case '[':
			j := i + 1
			if j < len(s) && (s[j] == '!' || s[j] == '^') {
				j++
			}
			if j < len(s) && s[j] == ']' {
				j++
			}
			for j < len(s) && s[j] != ']' {
				j++
			}
			if j >= len(s) {
				return fmt.Errorf("unterminated [")
			}
			body := s[i+1 : j]
			neg := false
			if strings.HasPrefix(body, "!") || strings.HasPrefix(body, "^") {
				neg, body = true, body[1:]
			}
			re.WriteString("[")
			if neg {
				re.WriteString("^/")
			}
			for _, r := range body {
				if r == '\\' || r == ']' || r == '[' || r == '^' {
					re.WriteString(`\`)
				}
				re.WriteRune(r)
			}
			re.WriteString("]")
			i = j
		case '{':
			if inBrace {
				return fmt.Errorf("nested {")
			}
			inBrace = true
			re.WriteString("(?:")
		case '}':
			if !inBrace {
				return fmt.Errorf("unbalanced }")
			}
			inBrace = false
			re.WriteString(")")
		case ',':
			if inBrace {
				re.WriteString("|")
			} else {
				re.WriteString(",")
			}
		case '(':
			*depth++
			*groups++
			re.WriteString("(")
		case ')':
			if *depth == 0 {
				return fmt.Errorf("unbalanced )")
			}
			*depth--
			re.WriteString(")")
		default:
			re.WriteString(regexp.QuoteMeta(s[i : i+1]))
		}
	}
	if inBrace {
		return fmt.Errorf("unterminated {")
	}
	return nil
}

// String returns the glob's source.
func (g *Glob) String() string { return g.src }

// Whole reports whether the glob is "/" (one datum).
func (g *Glob) Whole() bool { return g.segs == 0 }

// Datum returns the path of the datum that holds key ("" for "/"), or
// false when key belongs to no datum. Captures are the glob's groups.
func (g *Glob) Datum(key string) (path string, ok bool) {
	if g.segs == 0 {
		return "", true
	}
	if g.files {
		return key, g.re.MatchString(key)
	}
	p, ok := firstSegments(key, g.segs)
	if !ok {
		return "", false
	}
	return p, g.re.MatchString(p)
}

// Captures returns the capture groups of the glob matched against a datum
// path (nil if it does not match).
func (g *Glob) Captures(path string) []string {
	m := g.re.FindStringSubmatch(path)
	if m == nil {
		return nil
	}
	return m[1:]
}

// Contains reports whether key is in the datum at path.
func (g *Glob) Contains(path, key string) bool {
	switch {
	case g.segs == 0:
		return true
	case g.files:
		return key == path
	}
	return key == path || strings.HasPrefix(key, path+"/")
}

// firstSegments returns the first n '/'-separated segments of key, when it
// has at least n.
func firstSegments(key string, n int) (string, bool) {
	i := 0
	for seg := 0; seg < n; seg++ {
		j := strings.IndexByte(key[i:], '/')
		if j < 0 {
			if seg == n-1 {
				return key, true
			}
			return "", false
		}
		if seg == n-1 {
			return key[:i+j], true
		}
		i += j + 1
	}
	return key, true
}

var tmplRe = regexp.MustCompile(`\$(\d+)`)

func (g *Glob) checkTemplate(t string) error {
	for _, m := range tmplRe.FindAllStringSubmatch(t, -1) {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > g.groups {
			if g.groups == 0 {
				return fmt.Errorf("%s refers to capture group %d, but glob %q has no capture groups: mark them with parentheses, e.g. \"/(*).txt\"", t, n, g.src)
			}
			return fmt.Errorf("%s refers to capture group %d, but glob %q has %d", t, n, g.src, g.groups)
		}
	}
	return nil
}

// Expand fills template ("$1-$2") with captures.
func Expand(template string, captures []string) string {
	return tmplRe.ReplaceAllStringFunc(template, func(m string) string {
		n, _ := strconv.Atoi(m[1:])
		if n >= 1 && n <= len(captures) {
			return captures[n-1]
		}
		return ""
	})
}
