package main

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestRPMHeaders: the .rpm's name, version, arch, file list with modes
// and owners, config files and scriptlets, read by rpm itself.
func TestRPMHeaders(t *testing.T) {
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm not installed (make test-tools installs it)")
	}
	pkg, err := writePackage(built.o, "rpm", runtime.GOARCH, built.bins, built.docs, built.work)
	if err != nil {
		t.Fatal(err)
	}
	q := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("rpm", append([]string{"-qp", "--nosignature"}, append(args, pkg)...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm -qp %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if got := q("--qf", "%{NAME} %{VERSION} %{ARCH} %{LICENSE}\n"); got != "stsd 1.2.3 "+arch+" Apache-2.0\n" {
		t.Errorf("headers = %q", got)
	}
	list := q("--qf", "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]")
	for _, want := range []string{
		"-rwxr-xr-x root:root /usr/bin/stsd\n", "-rwxr-xr-x root:root /usr/bin/stsd-credential-process\n",
		"drwxr-x--- root:stsd /etc/stsd\n", "-rw-r----- root:stsd /etc/stsd/config.toml\n",
		"-rw-r--r-- root:root /usr/lib/systemd/system/stsd.service\n", "-rw-r--r-- root:root /usr/lib/sysusers.d/stsd.conf\n",
		"-rw-r--r-- root:root /usr/lib/tmpfiles.d/stsd.conf\n", "-rw-r--r-- root:root /usr/share/zsh/site-functions/_stsd\n",
		"-rw-r--r-- root:root /usr/share/man/man1/stsd.1.gz\n", "-rw-r--r-- root:root /usr/share/bash-completion/completions/stsd\n",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("file list lacks %q:\n%s", want, list)
		}
	}
	if got := q("-c"); got != "/etc/stsd/config.toml\n" {
		t.Errorf("config files = %q", got)
	}
	// c: a config file; n: noreplace (an edited one is kept, the new one saved as .rpmnew).
	if flags := q("--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]"); !strings.Contains(flags, "cn /etc/stsd/config.toml\n") {
		t.Errorf("config.toml is not %%config(noreplace):\n%s", flags)
	}
	scripts := q("--scripts")
	for _, want := range []string{"preinstall scriptlet", "systemd-sysusers --replace=/usr/lib/sysusers.d/stsd.conf", "postinstall scriptlet", "preuninstall scriptlet", "systemctl disable --now stsd.service", "postuninstall scriptlet"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("scriptlets lack %q", want)
		}
	}
	if strings.Contains(scripts, "systemctl start") || strings.Contains(scripts, "enable --now stsd.service ||") {
		t.Error("a scriptlet starts or enables the service")
	}
}
