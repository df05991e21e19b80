package s3api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// SlowDown answers a request the server refuses because it is serving as
// many requests as it may (the gateway's --max-requests): 503 SlowDown,
// S3's code for "reduce your request rate", as S3 error XML with a request
// id, and Retry-After (whole seconds, at least 1). The body is not read.
// SDKs retry SlowDown with backoff.
func SlowDown(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	secs := int(retryAfter / time.Second)
	if secs < 1 {
		secs = 1
	}
	rc := &reqCtx{id: randomID(), start: time.Now()}
	w.Header().Set("X-Amz-Request-Id", rc.id)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, r, rc, s3code.New("s3api.limit", errs.Transient, "SlowDown",
		"the server is serving as many requests as it may; retry after %d s", secs))
}

// RequestTimeout is the error a request body that stops arriving yields
// (400 RequestTimeout, as S3 answers a client that stalls its upload).
func RequestTimeout(op string, idle time.Duration) error {
	return s3code.New(op, errs.Invalid, "RequestTimeout",
		"no byte of the request body arrived for %s: your socket connection to the server was not read from or written to within the timeout period", idle)
}
