package stsclient

import (
	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
)

// NewEntry is the cache entry for res: fingerprinted by p and recording the
// hash of every file p's credentials were made from.
func NewEntry(cfg *config.Config, p *config.Profile, res *Result) (*cache.Entry, error) {
	files, err := cache.HashFiles(cfg.SourceFiles(p))
	if err != nil {
		return nil, err
	}
	return &cache.Entry{
		Version:     cache.EntryVersion,
		Profile:     p.Name,
		Fingerprint: p.Fingerprint(""),
		Credentials: res.Credentials,
		Issued:      res.Issued,
		ARN:         res.ARN,
		Files:       files,
	}, nil
}
