package main

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager

	"github.com/stsd/stsd/install"
)

//go:embed files
var packageFiles embed.FS

func hostOS() string   { return runtime.GOOS }
func hostArch() string { return runtime.GOARCH }

// unitPath is where the package puts the system unit: the vendor unit
// directory, which a unit `stsd install --system` writes to /etc overrides.
const unitPath = "/usr/lib/systemd/system/stsd.service"

// systemUnit is the system unit, rendered by the same code as
// `stsd install --system`.
func systemUnit() (string, error) {
	return install.Render(install.Service{
		Init:       install.Systemd,
		System:     true,
		Executable: "/usr/bin/stsd",
		ConfigPath: "/etc/stsd/config.toml",
		Origin:     "Installed by the stsd package; enable it once /etc/stsd/config.toml is configured: systemctl enable --now stsd",
	})
}

// packageInfo describes the package of format (deb, rpm) for arch,
// staging its generated files under work.
func packageInfo(o Options, format, arch string, b binaries, d docs, work string) (*nfpm.Info, error) {
	stage := filepath.Join(work, "pkg-"+format+"-"+arch)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, err
	}
	unit, err := systemUnit()
	if err != nil {
		return nil, err
	}
	put := func(name string, data []byte) (string, error) {
		p := filepath.Join(stage, name)
		return p, os.WriteFile(p, data, 0o644)
	}
	staged := map[string][]byte{"stsd.service": []byte(unit)}
	for _, f := range []string{"config.toml", "preinst.sh", "postinst.sh", "prerm.sh", "postrm.sh", "sysusers.conf", "tmpfiles.conf"} {
		data, err := packageFiles.ReadFile("files/" + f)
		if err != nil {
			return nil, err
		}
		staged[f] = data
	}
	for sh, s := range d.completions {
		staged["completion."+sh] = []byte(s)
	}
	for page, gz := range d.man {
		staged[page+".1.gz"] = gz
	}
	src := map[string]string{}
	for name, data := range staged {
		if src[name], err = put(name, data); err != nil {
			return nil, err
		}
	}
	zshDir := "/usr/share/zsh/vendor-completions" // Debian's fpath
	if format == "rpm" {
		zshDir = "/usr/share/zsh/site-functions"
	}
	contents := files.Contents{
		{Source: b.stsd, Destination: "/usr/bin/stsd", FileInfo: mode(0o755)},
		{Source: b.credentialProcess, Destination: "/usr/bin/stsd-credential-process", FileInfo: mode(0o755)},
		{Source: src["stsd.service"], Destination: unitPath, FileInfo: mode(0o644)},
		{Source: src["sysusers.conf"], Destination: "/usr/lib/sysusers.d/stsd.conf", FileInfo: mode(0o644)},
		{Source: src["tmpfiles.conf"], Destination: "/usr/lib/tmpfiles.d/stsd.conf", FileInfo: mode(0o644)},
		{Destination: "/etc/stsd", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Owner: "root", Group: "stsd", Mode: 0o750}},
		{Source: src["config.toml"], Destination: "/etc/stsd/config.toml", Type: files.TypeConfigNoReplace, FileInfo: &files.ContentFileInfo{Owner: "root", Group: "stsd", Mode: 0o640}},
		{Source: src["completion.bash"], Destination: "/usr/share/bash-completion/completions/stsd", FileInfo: mode(0o644)},
		{Source: src["completion.zsh"], Destination: zshDir + "/_stsd", FileInfo: mode(0o644)},
		{Source: src["completion.fish"], Destination: "/usr/share/fish/vendor_completions.d/stsd.fish", FileInfo: mode(0o644)},
		{Source: src["stsd.1.gz"], Destination: "/usr/share/man/man1/stsd.1.gz", FileInfo: mode(0o644)},
		{Source: src["stsd-credential-process.1.gz"], Destination: "/usr/share/man/man1/stsd-credential-process.1.gz", FileInfo: mode(0o644)},
	}
	info := &nfpm.Info{
		Name:        "stsd",
		Arch:        arch,
		Platform:    "linux",
		Version:     o.Version,
		Section:     "admin",
		Priority:    "optional",
		Maintainer:  "stsd developers <stsd@users.noreply.github.com>",
		Description: "Short-lived AWS credentials from STS for every program on the machine.\nstsd keeps an IAM user's long-term key to itself, trades it with STS for\nshort-lived credentials, refreshes them and serves them to the AWS CLI and\nSDKs (credential_process, IMDSv2, ECS) and, as an HTTPS broker, to other hosts.",
		Vendor:      "stsd",
		Homepage:    "https://github.com/stsd/stsd",
		License:     "Apache-2.0",
		MTime:       epoch,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Umask:    0o022,
			Scripts: nfpm.Scripts{
				PreInstall:  src["preinst.sh"],
				PostInstall: src["postinst.sh"],
				PreRemove:   src["prerm.sh"],
				PostRemove:  src["postrm.sh"],
			},
			RPM: nfpm.RPM{Summary: "Short-lived AWS credentials from STS", Group: "System Environment/Daemons", Packager: "stsd developers"},
		},
	}
	return nfpm.WithDefaults(info), nil
}

func mode(m os.FileMode) *files.ContentFileInfo {
	return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: m}
}

// writePackage builds the format package for arch into o.Out and its SBOM
// beside it, returning the package's path.
func writePackage(o Options, format, arch string, b binaries, d docs, work string) (string, error) {
	info, err := packageInfo(o, format, arch, b, d, work)
	if err != nil {
		return "", err
	}
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("%s %s: %w", format, arch, err)
	}
	pkgr, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	path := filepath.Join(o.Out, pkgr.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := pkgr.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("%s %s: %w", format, arch, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, writeSBOM(o, path, b.list())
}
