package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// privateRoot is the shell that runs script chrooted in a copy-on-write
// view of this machine: private mount, network and PID namespaces
// (unshare -m -n -p), an overlay over / whose writes land in a tmpfs, fresh /proc,
// /run and /tmp. Nothing it does reaches the machine's own files, and
// dpkg's maintainer scripts run there for real (dpkg --root alone cannot
// run them; --force-script-chrootless would run them on the host).
const privateRoot = `set -e
W=$1
mount -t tmpfs tmpfs "$W"
mkdir "$W/upper" "$W/work" "$W/root"
mount -t overlay overlay -o lowerdir=/,upperdir="$W/upper",workdir="$W/work" "$W/root"
mount -t proc proc "$W/root/proc"
mount --bind /dev "$W/root/dev"
mount -t tmpfs tmpfs "$W/root/run"
mount -t tmpfs tmpfs "$W/root/tmp"
cp -r "$2" "$W/root/tmp/in"
chroot "$W/root" /bin/sh /tmp/in/check.sh
`

// debChecks runs inside the private root: install, look, modify the
// conffile, remove, reinstall, purge; each section's output follows its
// "== name" line.
const debChecks = `set -e
export SYSTEMD_LOG_LEVEL=notice
# man-db's trigger would rebuild the whole man index at each dpkg run.
rm -f /var/lib/man-db/auto-update
echo "== install"
dpkg -i /tmp/in/pkg 2>&1
echo "== list"
dpkg -L stsd | sort
echo "== modes"
stat -c '%n %a %U:%G' /usr/bin/stsd /usr/bin/stsd-credential-process /etc/stsd /etc/stsd/config.toml /usr/lib/systemd/system/stsd.service /usr/share/man/man1/stsd.1.gz /var/cache/stsd /var/lib/stsd
echo "== conffiles"
cat /var/lib/dpkg/info/stsd.conffiles
echo "== account"
getent passwd stsd | cut -d: -f1,6,7
getent group stsd | cut -d: -f1
echo "== verify"
mkdir -p /tmp/xdg
XDG_RUNTIME_DIR=/tmp/xdg systemd-analyze verify /usr/lib/systemd/system/stsd.service 2>&1 && echo verified
echo "== service"
pgrep -x stsd || echo "not running"
ls /etc/systemd/system/*.wants/stsd.service 2>/dev/null || echo "not enabled"
echo "== check"
stsd check --system 2>&1 || true
echo "== remove"
echo "# kept by the admin" >> /etc/stsd/config.toml
dpkg -r stsd 2>&1
test -e /usr/bin/stsd && echo "binary left" || echo "binary gone"
tail -n 1 /etc/stsd/config.toml
dpkg-query -W -f='${db:Status-Abbrev}\n' stsd
echo "== reinstall"
dpkg -i /tmp/in/pkg >/dev/null 2>&1
tail -n 1 /etc/stsd/config.toml
echo "== purge"
dpkg -P stsd 2>&1
test -e /etc/stsd/config.toml && echo "config left" || echo "config gone"
test -e /var/lib/stsd && echo "state left" || echo "state gone"
getent passwd stsd >/dev/null && echo "user kept"
`

// runPrivateRoot runs checks in a private root with the files of in (name
// → path) in /tmp/in, returning the sections of its output.
func runPrivateRoot(t *testing.T, in map[string]string, checks string) map[string]string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare -m -n and mounts")
	}
	for _, tool := range []string{"unshare", "chroot", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	w := filepath.Join(dir, "w")
	inDir := filepath.Join(dir, "in")
	os.Mkdir(w, 0o700)
	os.Mkdir(inDir, 0o755)
	os.WriteFile(filepath.Join(inDir, "check.sh"), []byte(checks), 0o755)
	for name, src := range in {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(inDir, name), data, 0o755)
	}
	out, err := exec.Command("unshare", "-m", "-n", "-p", "-f", "--propagation", "private", "/bin/sh", "-c", privateRoot, "sh", w, inDir).CombinedOutput()
	if err != nil {
		t.Fatalf("private root: %v\n%s", err, out)
	}
	sections := map[string]string{}
	name := ""
	for l := range strings.Lines(string(out)) {
		if n, ok := strings.CutPrefix(l, "== "); ok {
			name = strings.TrimSpace(n)
			continue
		}
		sections[name] += l
	}
	return sections
}

// TestDebInstallsInPrivateRoot: the .deb installs with dpkg, creates the
// stsd user and group before unpacking (so /etc/stsd is root:stsd), ships
// the files with their modes, marks the config a conffile, installs a
// unit that passes systemd-analyze verify, starts and enables nothing, and
// removes cleanly (keeping an edited conffile until purge).
func TestDebInstallsInPrivateRoot(t *testing.T) {
	pkg, err := writePackage(built.o, "deb", runtime.GOARCH, built.bins, built.docs, built.work)
	if err != nil {
		t.Fatal(err)
	}
	s := runPrivateRoot(t, map[string]string{"pkg": pkg}, debChecks)
	wantFiles := []string{
		"/etc/stsd/config.toml",
		"/usr/bin/stsd",
		"/usr/bin/stsd-credential-process",
		"/usr/lib/systemd/system/stsd.service",
		"/usr/lib/sysusers.d/stsd.conf",
		"/usr/lib/tmpfiles.d/stsd.conf",
		"/usr/share/bash-completion/completions/stsd",
		"/usr/share/fish/vendor_completions.d/stsd.fish",
		"/usr/share/man/man1/stsd-credential-process.1.gz",
		"/usr/share/man/man1/stsd.1.gz",
		"/usr/share/zsh/vendor-completions/_stsd",
	}
	var files []string
	for l := range strings.Lines(s["list"]) {
		l = strings.TrimSpace(l)
		if fi, err := os.Stat(l); l != "/." && (err != nil || !fi.IsDir()) || l == "/etc/stsd/config.toml" {
			files = append(files, l) // directories are the machine's own too
		}
	}
	files = slices.DeleteFunc(files, func(f string) bool { return f == "/etc/stsd" })
	if !slices.Equal(files, wantFiles) {
		t.Errorf("dpkg -L (files):\n%s\nwant:\n%s", strings.Join(files, "\n"), strings.Join(wantFiles, "\n"))
	}
	for _, want := range []string{
		"/usr/bin/stsd 755 root:root", "/usr/bin/stsd-credential-process 755 root:root",
		"/etc/stsd 750 root:stsd", "/etc/stsd/config.toml 640 root:stsd",
		"/usr/lib/systemd/system/stsd.service 644 root:root", "/usr/share/man/man1/stsd.1.gz 644 root:root",
		"/var/cache/stsd 700 stsd:stsd", "/var/lib/stsd 700 stsd:stsd",
	} {
		if !strings.Contains(s["modes"], want+"\n") {
			t.Errorf("modes lack %q:\n%s", want, s["modes"])
		}
	}
	expect := map[string][]string{
		"install":   {"not enabled", "stsd init"},
		"conffiles": {"/etc/stsd/config.toml"},
		"account":   {"stsd:/var/lib/stsd:/usr/sbin/nologin\nstsd\n"},
		"verify":    {"verified"},
		"service":   {"not running", "not enabled"},
		"check":     {"/etc/stsd/config.toml: ok, 0 profile(s)"},
		"remove":    {"binary gone", "# kept by the admin", "rc"},
		"reinstall": {"# kept by the admin"},
		"purge":     {"config gone", "state gone", "user kept"},
	}
	for section, wants := range expect {
		for _, want := range wants {
			if !strings.Contains(s[section], want) {
				t.Errorf("%s: want %q in:\n%s", section, want, s[section])
			}
		}
	}
	if strings.Contains(s["verify"], "stsd.service:") {
		t.Errorf("systemd-analyze verify warned:\n%s", s["verify"])
	}
}
