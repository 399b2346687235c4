package daemon

import "errors"

// checkSocketDir: directories stsd creates on Windows inherit the profile
// directory's owner-only DACL; AF_UNIX has no peer credentials there.
func checkSocketDir(string, bool) error { return nil }

func chownGroup(string, string) error {
	return errors.New("socket_group is not supported on Windows")
}
