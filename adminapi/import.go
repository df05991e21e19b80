package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
)

// Import is an import the admin API asks for (already authorized and
// validated): Source under the server's import roots into Repo@Branch,
// keys Prefix + the path relative to Source.
type Import struct {
	Source, Repo, Branch, Prefix, Message string
	Link                                  bool
	User                                  string
}

// Importer is the server operation behind POST /repos/{repo}/import. Deps.Ops
// implements it when the server can import; otherwise the call answers 501.
type Importer interface {
	// Import runs im to its one commit (or to nothing: on any error no
	// commit is made). It calls started once the source and the target
	// are checked and the import has begun (errors before it are the
	// request's), then progress about once a second.
	Import(ctx context.Context, im Import, started func(), progress func(apiv1.ImportProgress)) (*apiv1.ImportResult, error)
}

// importObjects registers files of the server's host as one commit (admin
// users only: it reads the server's file system, within its import
// roots). Refusals before the import begins (source, repo, branch) answer
// with their status as every call does; once it has begun the answer is
// 200 with newline-delimited JSON (apiv1.ImportLine): progress lines, then
// one line with the result or the error.
func (a *API) importObjects(c *adminCall) (any, error) {
	repo := c.path("repo")
	if err := c.needGlobalAdmin("import files of the server's host"); err != nil {
		return nil, err
	}
	var req apiv1.ImportRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Branch == "" {
		req.Branch = "main"
	}
	if _, err := a.repo(c, repo, auth.PermWrite, "import into it"); err != nil {
		return nil, err
	}
	if err := names.ValidRef(req.Branch); err != nil {
		return nil, err
	}
	if req.Source == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", `name the source: {"source": "/path/on/the/server"}`)
	}
	link := false
	switch req.Mode {
	case "", "copy":
	case "link":
		link = true
	default:
		return nil, fail(errs.Invalid, "InvalidArgument", "mode %q: want copy or link", req.Mode)
	}
	im, ok := a.ops.(Importer)
	if !ok {
		return nil, fail(errs.NotImplemented, "NotImplemented", "this server cannot import")
	}
	msg := req.Message
	if msg == "" {
		msg = "import " + req.Source
	}
	// Once the import has begun the answer streams: 200, then lines.
	var mu sync.Mutex
	started := func() {
		mu.Lock()
		defer mu.Unlock()
		c.wrote = true
		c.w.Header().Set("Content-Type", "application/x-ndjson")
		c.w.WriteHeader(http.StatusOK)
		if f, ok := c.w.(http.Flusher); ok {
			f.Flush()
		}
	}
	enc := json.NewEncoder(c.w)
	line := func(l apiv1.ImportLine) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(l)
		if f, ok := c.w.(http.Flusher); ok {
			f.Flush()
		}
	}
	res, err := im.Import(c.ctx, Import{Source: req.Source, Repo: repo, Branch: req.Branch, Prefix: req.Prefix,
		Message: msg, Link: link, User: c.user}, started, func(p apiv1.ImportProgress) { line(apiv1.ImportLine{Progress: &p}) })
	if err != nil && !c.wrote {
		return nil, err
	}
	if err != nil {
		c.err = err
		_, e := toAPIError(err)
		e.RequestID = c.id
		line(apiv1.ImportLine{Error: e})
		return nil, err
	}
	c.audit(a, "import", repo+"@"+req.Branch, fmt.Sprintf("%s: %d files, %d bytes, commit %s", req.Source, res.Files, res.Bytes, res.Commit))
	line(apiv1.ImportLine{Result: res})
	return nil, nil
}
