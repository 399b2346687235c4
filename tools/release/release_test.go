package main

import (
	"archive/tar"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"sigs.k8s.io/yaml"
)

// built is what TestMain builds once: the host's binaries (linux only;
// the packages hold only what is checked, for one architecture) and the
// docs made from them.
var built struct {
	o    Options
	bins binaries
	docs docs
	work string
}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if runtime.GOOS != "linux" {
			fmt.Println("tools/release tests build linux packages: skipped on", runtime.GOOS)
			return 0
		}
		work, err := os.MkdirTemp("", "stsd-release-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(work)
		built.work = work
		built.o = Options{Version: "1.2.3", Commit: "test", Root: "../..", Out: filepath.Join(work, "dist")}
		built.o.Root, _ = filepath.Abs(built.o.Root)
		os.MkdirAll(built.o.Out, 0o755)
		ctx := context.Background()
		if built.bins, err = buildBinaries(ctx, built.o, platform{"linux", runtime.GOARCH}, filepath.Join(work, "bin")); err == nil {
			built.docs, err = generateDocs(ctx, built.o, work)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

// TestOCILayout: the index names linux/amd64 and linux/arm64; each image
// runs /usr/bin/stsd as a non-root user, and its one layer holds exactly
// the expected files, the CA roots from x509roots/fallback among them.
// (Both images hold the host's binaries here; `make release` builds each
// architecture's.)
func TestOCILayout(t *testing.T) {
	bins := map[platform]binaries{{"linux", "amd64"}: built.bins, {"linux", "arm64"}: built.bins}
	path, err := writeImage(built.o, bins)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	untar(t, path, dir)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture || cf.OS != "linux" {
			t.Errorf("%s: config says %s/%s", d.Platform, cf.OS, cf.Architecture)
		}
		if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{"/usr/bin/stsd"}) {
			t.Errorf("%s: user %q entrypoint %q; want 65532:65532 and /usr/bin/stsd", d.Platform, cf.Config.User, cf.Config.Entrypoint)
		}
		layers, _ := img.Layers()
		if len(layers) != 1 {
			t.Fatalf("%s: %d layers; want 1", d.Platform, len(layers))
		}
		rc, _ := layers[0].Uncompressed()
		checkLayer(t, rc)
		rc.Close()
	}
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("index platforms = %v", platforms)
	}
	if _, err := os.Stat(path + ".cdx.json"); err != nil {
		t.Errorf("no SBOM beside the image: %v", err)
	}
}

func checkLayer(t *testing.T, r io.Reader) {
	t.Helper()
	want := []string{"etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt", "etc/stsd/", "run/", "run/stsd/", "tmp/", "usr/", "usr/bin/", "usr/bin/stsd", "usr/bin/stsd-credential-process", "var/", "var/cache/", "var/cache/stsd/", "var/lib/", "var/lib/stsd/"}
	var got []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
		switch h.Name {
		case "usr/bin/stsd", "usr/bin/stsd-credential-process":
			if h.Mode != 0o755 || h.Uid != 0 {
				t.Errorf("%s: mode %o uid %d; want 0755 root", h.Name, h.Mode, h.Uid)
			}
		case "var/cache/stsd/", "var/lib/stsd/", "run/stsd/":
			if h.Uid != imageUID || h.Mode != 0o700 {
				t.Errorf("%s: uid %d mode %o; want the stsd user's, 0700", h.Name, h.Uid, h.Mode)
			}
		case "etc/ssl/certs/ca-certificates.crt":
			data, _ := io.ReadAll(tr)
			if n := countCerts(t, data); n < 100 {
				t.Errorf("CA bundle holds %d certificates", n)
			}
		case "etc/passwd":
			data, _ := io.ReadAll(tr)
			if !strings.Contains(string(data), "stsd:x:65532:65532:") {
				t.Errorf("/etc/passwd lacks the stsd user:\n%s", data)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("layer files:\n%q\nwant:\n%q", got, want)
	}
}

func countCerts(t *testing.T, data []byte) int {
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return n
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Errorf("CA bundle: %v", err)
		}
		n++
	}
}

func untar(t *testing.T, path, dir string) {
	t.Helper()
	if out, err := exec.Command("tar", "-xf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
}

// TestSBOM: each archive's SBOM is CycloneDX naming the artifact by hash
// and every module linked into the binaries.
func TestSBOM(t *testing.T) {
	p := platform{"linux", runtime.GOARCH}
	if err := writeArchive(built.o, p, built.bins); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(built.o.Out, archiveName(built.o, p)+".tar.gz.cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(f, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil || len(*bom.Metadata.Component.Hashes) != 1 {
		t.Fatalf("metadata = %+v", bom.Metadata)
	}
	var names []string
	for _, c := range *bom.Components {
		names = append(names, c.PackageURL)
	}
	for _, want := range []string{"pkg:golang/github.com/stsd/stsd@1.2.3", "pkg:golang/github.com/aws/aws-sdk-go-v2/service/sts@", "pkg:golang/stdlib@"} {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, want) }) {
			t.Errorf("SBOM lacks %s; has %v", want, names)
		}
	}
}

// TestManifests: the Homebrew formula and the winget manifest carry the
// version and each archive's checksum.
func TestManifests(t *testing.T) {
	o := built.o
	o.Out = t.TempDir()
	sums := map[string]string{}
	for _, p := range platforms {
		ext := ".tar.gz"
		if p.os == "windows" {
			ext = ".zip"
		}
		sums[archiveName(o, p)+ext] = fmt.Sprintf("%064x", len(sums)+1)
	}
	if err := writeManifests(o, sums); err != nil {
		t.Fatal(err)
	}
	rb, _ := os.ReadFile(filepath.Join(o.Out, "stsd.rb"))
	for _, want := range []string{`version "1.2.3"`, "service do", `sha256 "` + sums["stsd_1.2.3_darwin_arm64.tar.gz"] + `"`, `sha256 "` + sums["stsd_1.2.3_linux_amd64.tar.gz"] + `"`} {
		if !strings.Contains(string(rb), want) {
			t.Errorf("formula lacks %s", want)
		}
	}
	data, _ := os.ReadFile(filepath.Join(o.Out, "stsd.stsd.yaml"))
	var w struct {
		PackageVersion string
		Installers     []struct{ Architecture, InstallerSha256, InstallerUrl string }
	}
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	if w.PackageVersion != "1.2.3" || len(w.Installers) != 2 || w.Installers[0].InstallerSha256 != strings.ToUpper(sums["stsd_1.2.3_windows_amd64.zip"]) {
		t.Errorf("winget manifest = %+v", w)
	}
	if err := writeManifests(o, map[string]string{}); err == nil {
		t.Error("writeManifests without checksums: no error")
	}
}
