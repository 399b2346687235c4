package paths

import (
	"os"
	"path/filepath"
	"strings"
)

// AWSCredentialsFile is the shared credentials file stsd reads source keys
// from: configured (stsd's credentials_file) when set, else
// $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials. A leading ~ is the
// home directory and the result is absolute, so every reader (source
// resolution, the file checks, the cache's file hashes, the watcher)
// names the same file.
func AWSCredentialsFile(configured string) string {
	if configured != "" {
		return expand(configured)
	}
	return envFile("AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

// AWSConfigFile is the AWS shared config file: $AWS_CONFIG_FILE, else
// ~/.aws/config, by the same rule as AWSCredentialsFile.
func AWSConfigFile() string { return envFile("AWS_CONFIG_FILE", "config") }

func envFile(env, name string) string {
	if v := os.Getenv(env); v != "" {
		return expand(v)
	}
	return expand(filepath.Join("~", ".aws", name))
}

// expand makes p absolute, a leading ~ standing for the home directory.
func expand(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, "~"+string(filepath.Separator)) {
		home, _ := Home()
		p = filepath.Join(home, p[1:])
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
