package adminapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// Busy answers an admin API request the server refuses because it is
// serving as many requests as it may (the gateway's --max-requests): 503
// ServiceUnavailable as JSON, with Retry-After (whole seconds, at least 1).
// The body is not read.
func Busy(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	secs := int(retryAfter / time.Second)
	if secs < 1 {
		secs = 1
	}
	status, e := toAPIError(fail(errs.Transient, "ServiceUnavailable",
		"the server is serving as many requests as it may; retry after %d s", secs))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if r.Method == http.MethodHead {
		w.Header().Set("X-Tusk-Error-Code", e.Code)
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, e)
}
