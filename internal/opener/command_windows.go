package opener

// defaultCommand is the shell's URL handler; `cmd /c start` would parse
// the path as cmd syntax.
var defaultCommand = []string{"rundll32", "url.dll,FileProtocolHandler"}
