package apiv1

import "time"

// CommitProv answers GET /repos/{repo}/commit-prov: the provenance graph of
// a whole commit. Upstream are the input commits of the job that made it,
// recursively; downstream the output commits of the jobs that read it,
// recursively.
type CommitProv struct {
	Repo   string `json:"repo"`
	Commit string `json:"commit"`
	// Nodes are the commits, the asked one first (depth 0).
	Nodes []CommitProvNode `json:"nodes"`
	// Edges go from an input commit to the output commit of a job.
	Edges []CommitProvEdge `json:"edges"`
	// Truncated: the graph was cut at its node bound (500).
	Truncated bool `json:"truncated,omitempty"`
}

// CommitProvNode is one commit of a commit's provenance graph.
type CommitProvNode struct {
	Repo    string    `json:"repo"`
	Commit  string    `json:"commit"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	// Depth is the number of jobs between this commit and the asked one:
	// negative upstream, positive downstream.
	Depth int `json:"depth"`
	// Pipeline ("name@version") and Job made this commit ("" for a commit
	// no pipeline made).
	Pipeline string `json:"pipeline,omitempty"`
	Job      string `json:"job,omitempty"`
}

// CommitProvEdge is a job reading From ("repo@commit") and making To.
type CommitProvEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Job  string `json:"job"`
}
