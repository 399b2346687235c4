// Command release builds everything `make release` publishes into one
// directory: the archives (tar.gz, zip), .deb and .rpm packages, an OCI
// image layout tarball, a CycloneDX SBOM for each of them, a Homebrew
// formula and a winget manifest filled in with the checksums, and
// SHA256SUMS over it all.
//
// It is a module of its own so that nfpm, go-containerregistry and
// k8s.io/api, and what they pull in, stay out of the product's go.mod.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var o Options
	flag.StringVar(&o.Version, "version", "0.0.0-dev", "the version to stamp")
	flag.StringVar(&o.Commit, "commit", "unknown", "the commit to stamp")
	flag.StringVar(&o.Out, "out", "dist", "the directory to write (emptied first)")
	flag.StringVar(&o.Root, "root", "../..", "the stsd repository")
	flag.Parse()
	if err := Release(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "release: %v\n", err)
		os.Exit(1)
	}
}

// Options say what to release and where.
type Options struct {
	Version string // e.g. 1.2.3 (a leading v is dropped)
	Commit  string
	Out     string // output directory
	Root    string // the repository root
}

// platform is one GOOS/GOARCH the archives are built for.
type platform struct{ os, arch string }

var platforms = []platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// Release builds every artifact into o.Out.
func Release(ctx context.Context, o Options) error {
	o.Version = trimV(o.Version)
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return err
	}
	o.Root = root
	if err := os.RemoveAll(o.Out); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "stsd-release")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	d, err := generateDocs(ctx, o, work)
	if err != nil {
		return err
	}
	bins := map[platform]binaries{}
	for _, p := range platforms {
		b, err := buildBinaries(ctx, o, p, filepath.Join(work, p.os+"-"+p.arch))
		if err != nil {
			return err
		}
		bins[p] = b
		if err := writeArchive(o, p, b); err != nil {
			return err
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		for _, format := range []string{"deb", "rpm"} {
			if _, err := writePackage(o, format, arch, bins[platform{"linux", arch}], d, work); err != nil {
				return err
			}
		}
	}
	if _, err := writeImage(o, bins); err != nil {
		return err
	}
	sums, err := writeChecksums(o.Out)
	if err != nil {
		return err
	}
	if err := writeManifests(o, sums); err != nil {
		return err
	}
	_, err = writeChecksums(o.Out) // the manifests too
	return err
}

func trimV(v string) string {
	if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}
