//go:build linux

package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"testing"
)

// TestStartPinned: both ways of pinning leave the child (and every
// thread it starts) allowed on the one CPU only.
func TestStartPinned(t *testing.T) {
	t.Parallel()
	ts, _ := exec.LookPath("taskset")
	tests := []struct {
		name, taskset string
	}{
		{"inherited affinity", ""},
		{"taskset", ts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.name == "taskset" && ts == "" {
				t.Skip("taskset not installed")
			}
			cpu := allowedCPUs()[0]
			cmd := exec.Command("cat", "/proc/self/status")
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := startPinned(cmd, cpu, tt.taskset); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			if m := regexp.MustCompile(`(?m)^Cpus_allowed_list:\s*(\S+)$`).FindSubmatch(out.Bytes()); m == nil || string(m[1]) != cpu {
				t.Errorf("child's Cpus_allowed_list = %q; want %s", m, cpu)
			}
		})
	}
}
