package stsclient

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// APIs shares STS API clients among the Clients of one config that reach
// STS the same way (the same source profile, region and shared files):
// one SDK config, one HTTP connection pool, however many profiles and
// broker pairs use them. It is safe for concurrent use.
type APIs struct {
	mu sync.Mutex // guards m
	m  map[apiKey]*sts.Client
}

// apiKey is what an STS API client is built from.
type apiKey struct {
	region, sourceProfile    string
	keyring                  bool // the source key is in the keyring: no shared-config profile
	credentialsFile, cfgFile string
}

// NewAPIs returns an empty set of shared API clients.
func NewAPIs() *APIs { return &APIs{m: map[apiKey]*sts.Client{}} }

// get returns k's client, building it with build the first time.
func (a *APIs) get(k apiKey, build func() (*sts.Client, error)) (*sts.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.m[k]; c != nil {
		return c, nil
	}
	c, err := build()
	if err != nil {
		return nil, err
	}
	a.m[k] = c
	return c, nil
}
