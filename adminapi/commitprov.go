package adminapi

import (
	"fmt"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/pipelines"
)

// commitProvMax bounds the nodes of a commit's provenance graph.
const commitProvMax = 500

// commitProv answers GET /repos/{repo}/commit-prov?ref=REF: the commits
// upstream of REF's commit (the inputs of the job that made it,
// recursively) and downstream (the outputs of the jobs that read it,
// recursively), breadth first, at most commitProvMax commits. Commits in
// repos the caller cannot read are left out and not followed. Gate jobs
// (which make no output commit) and jobs whose output commit was never
// made (failed, killed, running) give no edge.
//
// Cost: one listing of every job record (O(jobs)) plus one commit read per
// node.
func (a *API) commitProv(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "read its provenance"); err != nil {
		return nil, err
	}
	ref, err := a.resolve(c, repo, c.q("ref"))
	if err != nil {
		return nil, err
	}
	if ref.Commit == nil {
		return nil, fail(errs.Invalid, "InvalidArgument", "%s is an open commit: provenance is kept for commits", c.q("ref"))
	}
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	jobs, err := ps.ListJobs(c.ctx, "", 0)
	if err != nil {
		return nil, err
	}
	id := func(repo, commit string) string { return repo + "@" + commit }
	byOutput := map[string]*pipelines.Job{}
	byInput := map[string][]*pipelines.Job{}
	for _, j := range jobs {
		if j.Gate != nil || j.OutputCommit == "" {
			continue
		}
		byOutput[id(j.OutputRepo, j.OutputCommit)] = j
		for _, in := range j.Inputs {
			byInput[id(in.Repo, in.Commit)] = append(byInput[id(in.Repo, in.Commit)], j)
		}
	}

	out := apiv1.CommitProv{Repo: repo, Commit: ref.Commit.ID, Nodes: []apiv1.CommitProvNode{}, Edges: []apiv1.CommitProvEdge{}}
	seen := map[string]bool{}
	edges := map[apiv1.CommitProvEdge]bool{}
	edge := func(e apiv1.CommitProvEdge) {
		if !edges[e] {
			edges[e] = true
			out.Edges = append(out.Edges, e)
		}
	}
	// add records the commit as a node at depth; false when it is not
	// shown (unreadable, never made, already there, or past the bound).
	add := func(r, commit string, depth int) (bool, error) {
		k := id(r, commit)
		if seen[k] {
			return false, nil
		}
		if a.auth.Level(c.ctx, c.user, r) < auth.PermRead {
			return false, nil
		}
		cm, err := a.meta.GetCommit(c.ctx, r, commit)
		if errs.Is(err, errs.NotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if len(out.Nodes) >= commitProvMax {
			out.Truncated = true
			return false, nil
		}
		seen[k] = true
		n := apiv1.CommitProvNode{Repo: r, Commit: cm.ID, Message: cm.Message, Time: cm.Time, Depth: depth}
		if j := byOutput[k]; j != nil {
			n.Pipeline, n.Job = fmt.Sprintf("%s@%d", j.Pipeline, j.Version), j.ID
		}
		out.Nodes = append(out.Nodes, n)
		return true, nil
	}
	if _, err := add(repo, ref.Commit.ID, 0); err != nil {
		return nil, err
	}
	// Breadth first in each direction; an edge is kept when both its ends
	// are shown.
	for _, dir := range []int{-1, 1} {
		frontier := []apiv1.CommitProvNode{out.Nodes[0]}
		for len(frontier) > 0 {
			var next []apiv1.CommitProvNode
			for _, n := range frontier {
				k := id(n.Repo, n.Commit)
				if dir < 0 {
					j := byOutput[k]
					if j == nil {
						continue
					}
					for _, in := range j.Inputs {
						ok, err := add(in.Repo, in.Commit, n.Depth-1)
						if err != nil {
							return nil, err
						}
						if ok {
							next = append(next, out.Nodes[len(out.Nodes)-1])
						}
						if seen[id(in.Repo, in.Commit)] {
							edge(apiv1.CommitProvEdge{From: id(in.Repo, in.Commit), To: k, Job: j.ID})
						}
					}
					continue
				}
				for _, j := range byInput[k] {
					ok, err := add(j.OutputRepo, j.OutputCommit, n.Depth+1)
					if err != nil {
						return nil, err
					}
					if ok {
						next = append(next, out.Nodes[len(out.Nodes)-1])
					}
					if seen[id(j.OutputRepo, j.OutputCommit)] {
						edge(apiv1.CommitProvEdge{From: k, To: id(j.OutputRepo, j.OutputCommit), Job: j.ID})
					}
				}
			}
			frontier = next
		}
	}
	return out, nil
}
