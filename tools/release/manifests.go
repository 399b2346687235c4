package main

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

//go:embed templates
var templates embed.FS

// writeManifests fills the Homebrew formula and the winget manifest with
// the version and the archives' checksums (keyed "OS_ARCH.EXT").
func writeManifests(o Options, sums map[string]string) error {
	data := struct {
		Version string
		Sums    map[string]string
	}{o.Version, map[string]string{}}
	prefix := "stsd_" + o.Version + "_"
	for name, sum := range sums {
		if strings.HasPrefix(name, prefix) {
			data.Sums[strings.TrimPrefix(name, prefix)] = sum
		}
	}
	for _, p := range platforms {
		ext := ".tar.gz"
		if p.os == "windows" {
			ext = ".zip"
		}
		if data.Sums[p.os+"_"+p.arch+ext] == "" {
			return fmt.Errorf("no checksum for %s%s%s", prefix, p.os+"_"+p.arch, ext)
		}
	}
	for _, m := range []struct{ tmpl, out string }{{"stsd.rb.tmpl", "stsd.rb"}, {"winget.yaml.tmpl", "stsd.stsd.yaml"}} {
		t, err := template.New(m.tmpl).Option("missingkey=error").Funcs(template.FuncMap{"upper": strings.ToUpper}).ParseFS(templates, "templates/"+m.tmpl)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return fmt.Errorf("%s: %w", m.tmpl, err)
		}
		if err := os.WriteFile(filepath.Join(o.Out, m.out), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
