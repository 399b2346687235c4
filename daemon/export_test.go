package daemon

import (
	"context"
	"net/http"
)

// WithPeerUIDForTest returns r as the control API sees a request that came
// over the socket from a process running as uid (-1: a peer whose uid is
// unknown), for tests that drive Handler() without a socket.
func WithPeerUIDForTest(r *http.Request, uid int) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), peerKey{}, uid))
}
