//go:build !darwin && !windows

package opener

// defaultCommand is freedesktop's opener.
var defaultCommand = []string{"xdg-open"}
