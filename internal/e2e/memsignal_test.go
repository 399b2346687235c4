//go:build !windows

package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stsd/stsd/internal/nobody"
)

// TestMemorySignal: SIGUSR1 from the daemon's user makes `stsd run`
// return its unused memory to the OS and log it, and the daemon keeps
// serving (SIGUSR1's default would end it); another user cannot send it.
func TestMemorySignal(t *testing.T) {
	b := standin(t)
	w := newWorld(t, b.url, sessionConfig)
	logPath := filepath.Join(t.TempDir(), "daemon.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := w.cmd(t.Context(), "stsd", "run")
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("stsd run exited with %v", err)
		}
	}()
	sock := filepath.Join(w.dir, "r", "stsd", "stsd.sock")
	waitFor(t, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	released := func() int {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), "event=memory_released")
	}
	pid := strconv.Itoa(cmd.Process.Pid)

	if os.Getuid() == 0 {
		attack := nobody.Run(exec.Command("sh", "-c", `kill -USR1 "$PID"`))
		attack.Env = []string{"PID=" + pid, "PATH=/usr/bin:/bin"}
		if out, err := attack.CombinedOutput(); err == nil {
			t.Errorf("nobody sent SIGUSR1 to the daemon (%s)", out)
		}
	} else {
		t.Log("not root: the other-user half is skipped (needs a child as nobody)")
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return released() >= 1 })
	accessKeyID(t, w) // still serving
	if n := released(); n != 1 {
		t.Errorf("%d memory releases logged; want 1 (the daemon user's)", n)
	}
}
