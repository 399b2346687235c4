package stsclient

import (
	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/wire"
)

// NewEntry is the cache entry for res: fingerprinted by p (and the broker
// client, if any) and recording the hash of every file p's credentials
// were made from.
func NewEntry(cfg *config.Config, p *config.Profile, client string, res *Result) (*cache.Entry, error) {
	files, err := cache.HashFiles(cfg.SourceFiles(p))
	if err != nil {
		return nil, err
	}
	return &cache.Entry{
		Version:     cache.EntryVersion,
		Profile:     wire.CacheKey(p.Name, client),
		Fingerprint: p.Fingerprint(client),
		Credentials: res.Credentials,
		Issued:      res.Issued,
		ARN:         res.ARN,
		Files:       files,
	}, nil
}
