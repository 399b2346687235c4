package daemon

// Harden does nothing on Windows: no core dumps are written by default,
// and other users cannot open the service's process.
func Harden() error { return nil }
