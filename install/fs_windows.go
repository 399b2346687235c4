package install

const exeSuffix = ".exe"

// quoteForbidden are characters a credential_process path may not hold:
// cmd.exe (the Go SDK's shell here) expands % and ! even inside quotes,
// and the Go SDK cuts values at " #" and " ;".
const quoteForbidden = "\"%!#;"

// pathSeparators are safe in an unquoted path.
const pathSeparators = `\`

// checkRootPath: the owner-only DACLs of the user's profile directory keep
// other users out of its files; there is no root to trick.
func checkRootPath(string) error { return nil }
