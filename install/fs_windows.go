package install

const exeSuffix = ".exe"

// quoteForbidden are characters a credential_process path may not hold:
// cmd.exe (the Go SDK's shell here) expands % and ! even inside quotes,
// and the Go SDK cuts values at " #" and " ;".
const quoteForbidden = "\"%!#;"

// pathSeparators are safe in an unquoted path.
const pathSeparators = `\`
