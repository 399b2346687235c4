package main

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// imageUID is the image's non-root user and group (the distroless
// "nonroot" id).
const imageUID = 65532

// imageFile is one entry of the image's single layer.
type imageFile struct {
	name string // without a leading slash
	mode int64
	dir  bool
	uid  int
	data []byte
	src  string // read from here when data is nil and not a dir
}

// imageFiles is exactly what the layer holds: the static binaries, the
// CA roots, the accounts, and the directories the daemon writes (owned by
// its user, for a read-only root filesystem they are volumes anyway).
func imageFiles(b binaries) []imageFile {
	return []imageFile{
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nstsd:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nstsd:x:65532:65532:stsd credential daemon:/var/lib/stsd:/sbin/nologin\n")},
		{name: "etc/ssl/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: caBundle()},
		{name: "etc/stsd/", dir: true, mode: 0o755},
		{name: "run/", dir: true, mode: 0o755},
		{name: "run/stsd/", dir: true, mode: 0o700, uid: imageUID},
		{name: "tmp/", dir: true, mode: 0o1777},
		{name: "usr/", dir: true, mode: 0o755},
		{name: "usr/bin/", dir: true, mode: 0o755},
		{name: "usr/bin/stsd", mode: 0o755, src: b.stsd},
		{name: "usr/bin/stsd-credential-process", mode: 0o755, src: b.credentialProcess},
		{name: "var/", dir: true, mode: 0o755},
		{name: "var/cache/", dir: true, mode: 0o755},
		{name: "var/cache/stsd/", dir: true, mode: 0o700, uid: imageUID},
		{name: "var/lib/", dir: true, mode: 0o755},
		{name: "var/lib/stsd/", dir: true, mode: 0o700, uid: imageUID},
	}
}

// caBundle is the PEM bundle of golang.org/x/crypto/x509roots/fallback
// (Mozilla's NSS roots), not the build host's.
func caBundle() []byte {
	var b bytes.Buffer
	for r := range bundle.Roots() {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
	}
	return b.Bytes()
}

func layerTar(fs []imageFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	sort.Slice(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
	for _, f := range fs {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: epoch, Uid: f.uid, Gid: f.uid, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		data := f.data
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else if data == nil {
			var err error
			if data, err = os.ReadFile(f.src); err != nil {
				return nil, err
			}
		}
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		tw.Write(data)
	}
	return buf.Bytes(), tw.Close()
}

// imageFor is the linux/arch image: one layer, run as the stsd user.
func imageFor(o Options, arch string, b binaries) (v1.Image, error) {
	data, err := layerTar(imageFiles(b))
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", arch, v1.Time{Time: epoch}
	cf.Config = v1.Config{
		User:       "65532:65532",
		Entrypoint: []string{"/usr/bin/stsd"},
		Cmd:        []string{"run", "--system", "--config", "/etc/stsd/config.toml"},
		Env:        []string{"PATH=/usr/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		WorkingDir: "/var/lib/stsd",
		Labels: map[string]string{
			"org.opencontainers.image.title":   "stsd",
			"org.opencontainers.image.version": o.Version,
			"org.opencontainers.image.source":  "https://github.com/stsd/stsd",
		},
		ExposedPorts: map[string]struct{}{"9443/tcp": {}},
	}
	return mutate.ConfigFile(img, cf)
}

// imageIndex is the multi-arch index of the linux images.
func imageIndex(o Options, bins map[platform]binaries) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := imageFor(o, arch, bins[platform{"linux", arch}])
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return idx, nil
}

// writeImage writes the OCI image layout as one tarball (skopeo's
// oci-archive; `tar -x` it for `crane push DIR`), with its SBOM.
func writeImage(o Options, bins map[platform]binaries) (string, error) {
	idx, err := imageIndex(o, bins)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "stsd-oci")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if _, err := layout.Write(dir, idx); err != nil {
		return "", err
	}
	path := filepath.Join(o.Out, "stsd_"+o.Version+"_oci.tar")
	if err := tarDir(dir, path); err != nil {
		return "", err
	}
	var list []string
	for _, arch := range []string{"amd64", "arm64"} {
		list = append(list, bins[platform{"linux", arch}].list()...)
	}
	return path, writeSBOM(o, path, list)
}

// tarDir writes the files under dir into a tar at path, names relative.
func tarDir(dir, path string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(h)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
