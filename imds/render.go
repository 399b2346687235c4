package imds

import (
	"sync"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// bodies caches rendered credential documents: building the JSON (and
// the garbage it makes) was ~15% of an endpoint's CPU per request under
// load (make bench). An entry is reused only for the same key id and
// expiration, so a refresh renders afresh.
type bodies struct {
	m sync.Map // variant → *rendered
}

type rendered struct {
	akid string
	exp  time.Time
	body []byte
}

// get returns the body for variant and credentials c, rendering it with
// render when the cached one was made for other credentials.
func (b *bodies) get(variant string, c wire.Credentials, render func() []byte) []byte {
	if v, ok := b.m.Load(variant); ok {
		if r := v.(*rendered); r.akid == c.AccessKeyID && r.exp.Equal(c.Expiration) {
			return r.body
		}
	}
	body := render()
	b.m.Store(variant, &rendered{akid: c.AccessKeyID, exp: c.Expiration, body: body})
	return body
}
