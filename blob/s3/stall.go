package s3

import (
	"context"
	"net"
	"net/http"
	"time"
)

// DefaultTimeout is Config.Timeout when 0: how long a call may make no
// progress before it fails. A minute is boto3's read timeout, the same
// notion (time without a byte); it leaves room for a server-side copy of a
// large part (UploadPartCopy answers only when done) and still frees a
// request held by a frozen service (a SIGSTOPped process, a black-holed
// route) within minutes: at most maxRetries times the bound (minio-go's
// attempts at a timed-out request, the first included), plus backoff.
const DefaultTimeout = time.Minute

// bound makes every connection of tr fail a read or write that makes no
// progress for d (stallConn: this bounds the wait for a response's headers
// too), waits at most d to connect, and closes idle connections before
// their pending read could time out.
func bound(tr *http.Transport, d time.Duration) {
	dialer := &net.Dialer{Timeout: d, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, d: d}, nil
	}
	// The connections bound the wait for an answer themselves; the
	// transport's own header timeout (minio-go sets a minute) would fail
	// with an error that reads as the caller's context ending.
	tr.ResponseHeaderTimeout = 0
	tr.TLSHandshakeTimeout = min(tr.TLSHandshakeTimeout, d)
	tr.IdleConnTimeout = min(tr.IdleConnTimeout, d/2)
}

// stallConn is a connection whose every Read and Write must make progress
// within d. A Write also pushes the read deadline out: the transport keeps
// a Read pending for the next response while it writes a request, and that
// read must count from the request's last byte, not from when the
// connection fell idle. The errors are net timeouts: classify makes them
// errs.Transient.
type stallConn struct {
	net.Conn
	d time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.d)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *stallConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.d)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
