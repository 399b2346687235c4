package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// binaries are the two programs built for one platform.
type binaries struct {
	stsd, credentialProcess string // paths
	exe                     string // ".exe" on windows
}

func (b binaries) list() []string { return []string{b.stsd, b.credentialProcess} }

// buildBinaries cross-compiles both programs for p, static and stamped.
func buildBinaries(ctx context.Context, o Options, p platform, dir string) (binaries, error) {
	b := binaries{}
	if p.os == "windows" {
		b.exe = ".exe"
	}
	b.stsd = filepath.Join(dir, "stsd"+b.exe)
	b.credentialProcess = filepath.Join(dir, "stsd-credential-process"+b.exe)
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", o.Version, o.Commit)
	for _, c := range []struct{ out, pkg string }{{b.stsd, "./cmd/stsd"}, {b.credentialProcess, "./cmd/stsd-credential-process"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", c.out, c.pkg)
		cmd.Dir = o.Root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.os, "GOARCH="+p.arch, "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s for %s/%s: %v\n%s", c.pkg, p.os, p.arch, err, out)
		}
	}
	return b, nil
}

// docs are the completion scripts and man pages, made by running the
// host's stsd: they are the same on every platform.
type docs struct {
	completions map[string]string // shell → script
	man         map[string][]byte // page → gzipped roff
}

func generateDocs(ctx context.Context, o Options, work string) (docs, error) {
	host, err := buildBinaries(ctx, o, platform{hostOS(), hostArch()}, filepath.Join(work, "host"))
	if err != nil {
		return docs{}, err
	}
	d := docs{completions: map[string]string{}, man: map[string][]byte{}}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		out, err := exec.CommandContext(ctx, host.stsd, "completion", sh).Output()
		if err != nil {
			return d, fmt.Errorf("stsd completion %s: %w", sh, err)
		}
		d.completions[sh] = string(out)
	}
	for _, page := range []string{"stsd", "stsd-credential-process"} {
		out, err := exec.CommandContext(ctx, host.stsd, "man", page).Output()
		if err != nil {
			return d, fmt.Errorf("stsd man %s: %w", page, err)
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.ModTime = time.Unix(0, 0)
		zw.Write(out)
		zw.Close()
		d.man[page] = gz.Bytes()
	}
	return d, nil
}

// archiveName is the base name of p's archive.
func archiveName(o Options, p platform) string {
	return fmt.Sprintf("stsd_%s_%s_%s", o.Version, p.os, p.arch)
}

// writeArchive packs b and the README as a tar.gz (zip on windows), and
// its SBOM beside it.
func writeArchive(o Options, p platform, b binaries) error {
	name := archiveName(o, p)
	files := []archived{
		{name + "/stsd" + b.exe, b.stsd, 0o755},
		{name + "/stsd-credential-process" + b.exe, b.credentialProcess, 0o755},
		{name + "/README.md", filepath.Join(o.Root, "README.md"), 0o644},
	}
	var path string
	var err error
	if p.os == "windows" {
		path = filepath.Join(o.Out, name+".zip")
		err = writeZip(path, files)
	} else {
		path = filepath.Join(o.Out, name+".tar.gz")
		err = writeTarGz(path, files)
	}
	if err != nil {
		return err
	}
	return writeSBOM(o, path, b.list())
}

type archived struct {
	name, src string
	mode      int64
}

// epoch is every archived file's time, so a rebuild is byte-identical.
var epoch = time.Unix(0, 0).UTC()

func writeTarGz(path string, files []archived) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeZip(path string, files []archived) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
		h.SetMode(os.FileMode(f.mode))
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// writeChecksums writes SHA256SUMS over every file in dir and returns
// them by file name.
func writeChecksums(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	var lines []string
	for _, e := range entries {
		if e.IsDir() || e.Name() == "SHA256SUMS" {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		sums[e.Name()] = hex.EncodeToString(h.Sum(nil))
		lines = append(lines, sums[e.Name()]+"  "+e.Name())
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	return sums, os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
