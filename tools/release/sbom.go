package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// sbom is the CycloneDX BOM of the artifact at path: the artifact itself
// (with its SHA-256) and every Go module linked into bins, read from their
// build information.
func sbom(o Options, path string, bins []string) (*cdx.BOM, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuidFrom(sum[:])
	bom.Metadata = &cdx.Metadata{
		Timestamp: epoch.Format("2006-01-02T15:04:05Z"),
		Component: &cdx.Component{
			BOMRef:  "artifact",
			Type:    cdx.ComponentTypeApplication,
			Name:    filepath.Base(path),
			Version: o.Version,
			Hashes:  &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex.EncodeToString(sum[:])}},
		},
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "stsd tools/release"}}},
	}
	seen := map[string]cdx.Component{}
	for _, b := range bins {
		bi, err := buildinfo.ReadFile(b)
		if err != nil {
			return nil, fmt.Errorf("build info of %s: %w", b, err)
		}
		go126 := strings.TrimPrefix(bi.GoVersion, "go")
		seen["stdlib"] = component("stdlib", go126)
		seen[bi.Main.Path] = component(bi.Main.Path, o.Version)
		for _, d := range bi.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			seen[d.Path] = component(d.Path, d.Version)
		}
	}
	var comps []cdx.Component
	for _, c := range seen {
		comps = append(comps, c)
	}
	slices.SortFunc(comps, func(a, b cdx.Component) int { return strings.Compare(a.Name, b.Name) })
	bom.Components = &comps
	return bom, nil
}

func component(path, version string) cdx.Component {
	purl := fmt.Sprintf("pkg:golang/%s@%s", path, version)
	return cdx.Component{BOMRef: purl, Type: cdx.ComponentTypeLibrary, Name: path, Version: version, PackageURL: purl}
}

// uuidFrom is a version-4-shaped UUID made from b (the artifact's hash),
// so the same artifact always gets the same serial number.
func uuidFrom(b []byte) string {
	u := slices.Clone(b[:16])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// writeSBOM writes path's SBOM as path + ".cdx.json".
func writeSBOM(o Options, path string, bins []string) error {
	bom, err := sbom(o, path, bins)
	if err != nil {
		return err
	}
	f, err := os.Create(path + ".cdx.json")
	if err != nil {
		return err
	}
	enc := cdx.NewBOMEncoder(f, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.Encode(bom); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
