package apiv1

// PreviewColumn is one leaf column of a Parquet schema. Name is its path,
// the parts joined with "." (a.b for field b of group a).
type PreviewColumn struct {
	Name string `json:"name"`
	// Type is the physical type with its logical type, as the library
	// prints it (e.g. "INT64", "BYTE_ARRAY (STRING)").
	Type string `json:"type"`
	// Optional columns may hold null; repeated columns hold a list per row.
	Optional bool `json:"optional,omitempty"`
	Repeated bool `json:"repeated,omitempty"`
}

// Preview answers GET /repos/{repo}/preview: the head of a Parquet object.
// Rows holds the first rows of the first row group, one value per column
// in Columns' order: null, a bool, a number, a string (text as is, other
// bytes as 0x-prefixed hex) or, for a repeated column, a list of those.
type Preview struct {
	Repo    string          `json:"repo"`
	Ref     string          `json:"ref"`
	Key     string          `json:"key"`
	Version string          `json:"version"`
	Size    int64           `json:"size"`
	Format  string          `json:"format"` // "parquet"
	Columns []PreviewColumn `json:"columns"`
	// NumRows counts the rows of the whole object (from its footer);
	// RowGroups its row groups.
	NumRows   int64   `json:"num_rows"`
	RowGroups int     `json:"row_groups"`
	Rows      [][]any `json:"rows"`
	// BytesRead is how many bytes of the object the preview read.
	BytesRead int64 `json:"bytes_read"`
}
