package config

import (
	"maps"
	"os"
	"slices"

	"github.com/BurntSushi/toml"
)

// Names are the names a config file defines, for shell completion.
type Names struct {
	Profiles []string // [profiles.NAME]
	Clients  []string // [broker.clients.NAME]
	Keys     []string // [keys.NAME]
}

// ReadNames returns the names the config file at path defines, sorted.
// Unlike Load it checks nothing else, so a half-edited config still
// completes; a file that is not TOML at all yields an error.
func ReadNames(path string) (Names, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Names{}, err
	}
	var doc struct {
		Profiles map[string]toml.Primitive `toml:"profiles"`
		Broker   struct {
			Clients map[string]toml.Primitive `toml:"clients"`
		} `toml:"broker"`
		Keys map[string]toml.Primitive `toml:"keys"`
	}
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return Names{}, err
	}
	return Names{
		Profiles: slices.Sorted(maps.Keys(doc.Profiles)),
		Clients:  slices.Sorted(maps.Keys(doc.Broker.Clients)),
		Keys:     slices.Sorted(maps.Keys(doc.Keys)),
	}, nil
}
