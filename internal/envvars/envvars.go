// Package envvars builds the AWS_* environment stsd hands to programs
// (`stsd env`, `stsd env-hint`, `stsd exec`), prints it for each shell, and
// runs a command under it.
package envvars

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// Var is one variable to set.
type Var struct{ Name, Value string }

// Env is a set of changes to an environment: variables to set, in order,
// and variables to remove.
type Env struct {
	Set   []Var
	Unset []string
}

// staticKeys are the variables that would win over an endpoint in every
// SDK's chain (environment credentials come first, a profile next).
var staticKeys = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", // boto2's name for the session token
}

// Credentials is the environment of `stsd env`: the credentials themselves
// (secrets), their expiry and region.
func Credentials(c wire.Credentials, region string) Env {
	e := Env{Set: []Var{
		{"AWS_ACCESS_KEY_ID", c.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", c.SecretAccessKey},
		{"AWS_SESSION_TOKEN", c.SessionToken},
		{"AWS_CREDENTIAL_EXPIRATION", wire.Stamp(c.Expiration)},
	}}
	e.Set = append(e.Set, regionVars(region)...)
	return e
}

func regionVars(region string) []Var {
	if region == "" {
		return nil
	}
	return []Var{{"AWS_REGION", region}, {"AWS_DEFAULT_REGION", region}}
}

// ECS describes an ECS-compatible endpoint for one profile.
type ECS struct {
	URL        string    // AWS_CONTAINER_CREDENTIALS_FULL_URI
	Token      string    // AWS_CONTAINER_AUTHORIZATION_TOKEN (exec), or
	TokenFile  string    // AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (env-hint)
	Region     string    // AWS_REGION and AWS_DEFAULT_REGION
	Expiration time.Time // AWS_CREDENTIAL_EXPIRATION when known
}

// Container is the environment that points SDKs at an ECS endpoint: the
// full URI and one token variable, region, expiry; and without the
// variables that would win over it or name another endpoint (the
// relative URI, profiles, static keys). JS fromContainerMetadata reads only
// AWS_CONTAINER_AUTHORIZATION_TOKEN, so exec passes the token itself.
func Container(x ECS) Env {
	e := Env{Set: []Var{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", x.URL}}}
	unset := []string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"}
	if x.Token != "" {
		e.Set = append(e.Set, Var{"AWS_CONTAINER_AUTHORIZATION_TOKEN", x.Token})
		unset = append(unset, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	} else {
		e.Set = append(e.Set, Var{"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", x.TokenFile})
		// JS prefers the token variable over the file: drop a stale one.
		unset = append(unset, "AWS_CONTAINER_AUTHORIZATION_TOKEN")
	}
	e.Set = append(e.Set, regionVars(x.Region)...)
	if !x.Expiration.IsZero() {
		e.Set = append(e.Set, Var{"AWS_CREDENTIAL_EXPIRATION", wire.Stamp(x.Expiration)})
	}
	e.Unset = append(unset, staticKeys...)
	return e
}

// IMDS is the environment that points SDKs at an IMDSv2 endpoint.
func IMDS(endpoint, region string) Env {
	e := Env{Set: []Var{{"AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint}}}
	e.Set = append(e.Set, regionVars(region)...)
	e.Unset = append([]string{"AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"}, staticKeys...)
	return e
}

// Merge combines environments; a later Set wins, and a name set by any is
// not unset.
func Merge(envs ...Env) Env {
	var out Env
	for _, e := range envs {
		for _, v := range e.Set {
			i := slices.IndexFunc(out.Set, func(o Var) bool { return o.Name == v.Name })
			if i >= 0 {
				out.Set[i] = v
			} else {
				out.Set = append(out.Set, v)
			}
		}
		for _, u := range e.Unset {
			if !slices.Contains(out.Unset, u) {
				out.Unset = append(out.Unset, u)
			}
		}
	}
	out.Unset = slices.DeleteFunc(out.Unset, func(u string) bool {
		return slices.ContainsFunc(out.Set, func(v Var) bool { return v.Name == u })
	})
	return out
}

// Apply returns environ (KEY=VALUE lines) with e applied.
func Apply(environ []string, e Env) []string {
	drop := map[string]bool{}
	for _, u := range e.Unset {
		drop[u] = true
	}
	for _, v := range e.Set {
		drop[v.Name] = true
	}
	out := make([]string, 0, len(environ)+len(e.Set))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	for _, v := range e.Set {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// Formats Write knows.
var Formats = []string{"sh", "fish", "powershell", "json"}

// Write prints e for format: sh (POSIX shells), fish, powershell, or json
// (an object of name → value, null for a variable to remove).
func Write(w io.Writer, format string, e Env) error {
	var b bytes.Buffer
	switch format {
	case "sh", "":
		for _, v := range e.Set {
			fmt.Fprintf(&b, "export %s=%s\n", v.Name, shQuote(v.Value))
		}
		for _, u := range e.Unset {
			fmt.Fprintf(&b, "unset %s\n", u)
		}
	case "fish":
		for _, v := range e.Set {
			fmt.Fprintf(&b, "set -gx %s %s\n", v.Name, fishQuote(v.Value))
		}
		for _, u := range e.Unset {
			fmt.Fprintf(&b, "set -e %s\n", u)
		}
	case "powershell":
		for _, v := range e.Set {
			fmt.Fprintf(&b, "$Env:%s = %s\n", v.Name, psQuote(v.Value))
		}
		for _, u := range e.Unset {
			fmt.Fprintf(&b, "Remove-Item Env:%s -ErrorAction SilentlyContinue\n", u)
		}
	case "json":
		b.WriteString("{")
		sep := "\n"
		for _, v := range e.Set {
			fmt.Fprintf(&b, "%s  %s: %s", sep, jsonString(v.Name), jsonString(v.Value))
			sep = ",\n"
		}
		for _, u := range e.Unset {
			fmt.Fprintf(&b, "%s  %s: null", sep, jsonString(u))
			sep = ",\n"
		}
		b.WriteString("\n}\n")
	default:
		return fmt.Errorf("unknown format %q: use %s", format, strings.Join(Formats, ", "))
	}
	_, err := w.Write(b.Bytes())
	return err
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// plain: characters no shell treats specially, printed unquoted.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("@%+=:,./-_", c):
		default:
			return false
		}
	}
	return true
}

// shQuote: POSIX single quotes, where nothing is special; a quote is
// closed, escaped and reopened.
func shQuote(s string) string {
	if plain(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fishQuote: in fish single quotes only \\ and \' are escapes.
func fishQuote(s string) string {
	if plain(s) {
		return s
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// psQuote: PowerShell single-quoted (verbatim) strings double a quote;
// the typographic quotes PowerShell also accepts as delimiters are doubled
// too.
func psQuote(s string) string {
	return "'" + strings.NewReplacer("'", "''", "‘", "‘‘", "’", "’’", "‚", "‚‚", "‛", "‛‛").Replace(s) + "'"
}

// ContainerID is the environment of a container given a container id:
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, which botocore, aws-sdk-go-v2
// and JS v3 resolve against http://169.254.170.2 (sending no
// Authorization), and the region; without the variables that would win
// over it or name another endpoint.
func ContainerID(uri, region string) Env {
	e := Env{Set: []Var{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", uri}}}
	e.Set = append(e.Set, regionVars(region)...)
	e.Unset = append([]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"}, staticKeys...)
	return e
}

// ContainerFormats are the formats WriteContainer knows.
var ContainerFormats = []string{"env", "docker", "json"}

// WriteContainer prints the variables e sets (a container starts without
// the host's environment, so there is nothing to unset) as env: KEY=VALUE
// lines, what `docker run --env-file` and a compose env_file take; docker:
// `-e KEY=VALUE` flags on one line, for `docker run $(…)` (which puts them
// in docker's command line, visible to every local user); or json.
func WriteContainer(w io.Writer, format string, e Env) error {
	var b bytes.Buffer
	switch format {
	case "env", "":
		for _, v := range e.Set {
			fmt.Fprintf(&b, "%s=%s\n", v.Name, v.Value)
		}
	case "docker":
		flags := make([]string, len(e.Set))
		for i, v := range e.Set {
			flags[i] = "-e " + shQuote(v.Name+"="+v.Value)
		}
		b.WriteString(strings.Join(flags, " ") + "\n")
	case "json":
		return Write(w, "json", Env{Set: e.Set})
	default:
		return fmt.Errorf("unknown format %q: use %s", format, strings.Join(ContainerFormats, ", "))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// DockerRun is the command line of `docker run` passing e's variables by
// name only (`-e NAME`: docker copies the value from its own environment,
// so no value shows in its command line), then args.
func DockerRun(e Env, args []string) []string {
	argv := []string{"docker", "run"}
	for _, v := range e.Set {
		argv = append(argv, "-e", v.Name)
	}
	return append(argv, args...)
}
