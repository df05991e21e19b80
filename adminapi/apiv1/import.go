package apiv1

// ImportRequest is the body of POST /api/v1/repos/{repo}/import.
type ImportRequest struct {
	// Source is a directory (or one file) on the gateway's host, an
	// absolute path or a file:// URL, under one of the server's import
	// roots (tusk serve --import-root).
	Source string `json:"source"`
	// Branch receives the commit ("" = main).
	Branch string `json:"branch,omitempty"`
	// Prefix: a directory's files become Prefix/ + their path relative to
	// Source (keys use "/"; "" = none); a file becomes key Prefix (Prefix +
	// its name when Prefix is empty or ends in "/").
	Prefix  string `json:"prefix,omitempty"`
	Message string `json:"message,omitempty"`
	// Mode is "copy" (default: each file read once, its bytes written into
	// the blob store) or "link" (each file read once to hash it, then
	// hard-linked into the blob store: no copy; the files must then never
	// be changed in place). Link falls back to copy across file systems
	// and on backends that cannot link (s3).
	Mode string `json:"mode,omitempty"`
}

// ImportProgress is one progress line of an import's answer.
type ImportProgress struct {
	Files   int64   `json:"files"`   // files stored so far
	Bytes   int64   `json:"bytes"`   // their bytes
	Seconds float64 `json:"seconds"` // since the import began
}

// ImportResult reports a finished import.
type ImportResult struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Commit string `json:"commit"` // the one commit holding every imported key
	Files  int64  `json:"files"`
	Bytes  int64  `json:"bytes"`
	Linked int64  `json:"linked"` // files hard-linked (no copy)
	Copied int64  `json:"copied"` // files copied, or whose content was stored already
	// Skipped lists what was not imported: symbolic links and special
	// files (the first 100, with SkippedCount the total).
	Skipped      []string `json:"skipped,omitempty"`
	SkippedCount int64    `json:"skipped_count,omitempty"`
	Seconds      float64  `json:"seconds"`
}

// ImportLine is one line of the answer of POST /repos/{repo}/import, which
// streams newline-delimited JSON: progress lines while the import runs,
// then exactly one line with the result or the error.
type ImportLine struct {
	Progress *ImportProgress `json:"progress,omitempty"`
	Result   *ImportResult   `json:"result,omitempty"`
	Error    *APIError       `json:"error,omitempty"`
}
