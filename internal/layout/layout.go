// Package layout holds no code: its tests enforce stsd's architecture —
// which packages may link what, that no product function grows past 80
// lines, and that comments state rules instead of citing documents
// outside the repo.
package layout
