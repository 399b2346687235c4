package opener

// defaultCommand is macOS's opener.
var defaultCommand = []string{"open"}
