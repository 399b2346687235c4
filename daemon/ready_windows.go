package daemon

import (
	"errors"
	"io"
)

// readySupported: a Windows daemon keeps no ready files; its clients use
// the socket, whose directory they verify through its ACL.
const readySupported = false

func prepareReadyDir(string) error { return errors.ErrUnsupported }

func writeReady(string, []byte) (io.Closer, error) { return nil, errors.ErrUnsupported }
