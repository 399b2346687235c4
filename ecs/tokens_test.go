package ecs

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state", "ecs")
	tokens := NewTokens(nil)
	if err := tokens.LoadDir(dir, []string{"dev", "prod"}); err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	dev, err := os.ReadFile(TokenFile(dir, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	tok := string(dev)
	if !validToken(tok) || strings.ContainsAny(tok, "\r\n") {
		t.Errorf("created token %d bytes is not a valid token", len(tok))
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{dir: 0o700, TokenFile(dir, "dev"): 0o600} {
			if fi, _ := os.Stat(path); fi.Mode().Perm() != want {
				t.Errorf("%s mode %04o; want %04o", path, fi.Mode().Perm(), want)
			}
		}
	}
	if err := tokens.Check("dev", tok); err != nil {
		t.Errorf("Check(dev, its file token) = %v", err)
	}
	if err := tokens.Check("prod", tok); err != ErrWrongToken {
		t.Errorf("Check(prod, dev's token) = %v; want ErrWrongToken", err)
	}

	// A second start reads the same tokens.
	again := NewTokens(nil)
	if err := again.LoadDir(dir, []string{"dev"}); err != nil {
		t.Fatal(err)
	}
	if err := again.Check("dev", tok); err != nil {
		t.Errorf("after reload: %v", err)
	}
}

func TestLoadDirRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
	}{
		{"world readable", "GOODTOKENGOODTOKENGOOD", 0o644, "chmod 600"},
		{"trailing newline", "GOODTOKENGOODTOKENGOOD\n", 0o600, "ends with a newline"},
		{"too short", "short", 0o600, "no newline"},
		{"two lines", "GOODTOKENGOODTOKENGOOD\nGOODTOKENGOODTOKENGOOD", 0o600, "no newline"},
		{"empty", "", 0o600, "no newline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if runtime.GOOS == "windows" && tt.mode != 0o600 {
				t.Skip("no modes on Windows")
			}
			dir := t.TempDir()
			path := TokenFile(dir, "dev")
			os.WriteFile(path, []byte(tt.content), tt.mode)
			os.Chmod(path, tt.mode)
			err := NewTokens(nil).LoadDir(dir, []string{"dev"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadDir with %s = %v; want an error saying %q", tt.name, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "GOODTOKEN") {
				t.Error("the error shows the token")
			}
		})
	}
}

func TestCheckTable(t *testing.T) {
	t.Parallel()
	tokens := NewTokens(nil)
	tokens.SetFile("dev", devToken)
	for _, tt := range []struct {
		profile, token string
		want           error
	}{
		{"dev", devToken, nil},
		{"dev", "", ErrNoToken},
		{"dev", devToken + " ", ErrWrongToken},
		{"dev", devToken[:len(devToken)-1], ErrWrongToken},
		{"dev", strings.Repeat("x", 10000), ErrWrongToken},
		{"prod", devToken, ErrWrongToken},
		{"", devToken, ErrWrongToken},
	} {
		if got := tokens.Check(tt.profile, tt.token); got != tt.want {
			t.Errorf("Check(%q, %.12q…) = %v; want %v", tt.profile, tt.token, got, tt.want)
		}
	}
}

// TestFileTokenReplaced: a profile's new token works at once and its old
// one stops at once; neither opens another profile.
func TestFileTokenReplaced(t *testing.T) {
	t.Parallel()
	tokens := NewTokens(nil)
	oldTok, newTok := strings.Repeat("a", 26), strings.Repeat("b", 26)
	tokens.SetFile("dev", oldTok)
	tokens.SetFile("prod", strings.Repeat("p", 26))
	if err := tokens.Check("dev", oldTok); err != nil {
		t.Fatalf("dev's token: %v", err)
	}
	tokens.SetFile("dev", newTok)
	for _, tt := range []struct {
		profile, token string
		want           error
	}{
		{"dev", newTok, nil},
		{"dev", oldTok, ErrWrongToken},
		{"prod", newTok, ErrWrongToken},
		{"prod", oldTok, ErrWrongToken},
	} {
		if err := tokens.Check(tt.profile, tt.token); err != tt.want {
			t.Errorf("Check(%s, %.1s…) = %v, want %v", tt.profile, tt.token, err, tt.want)
		}
	}
}
