package daemon

import (
	"sync"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// wireCodec encodes with hb/wire: the netstring form with both signatures
// on UDP media, the classic text form (auth field signed) on serial
// lines; Decode accepts either and checks the signatures.
type wireCodec struct {
	mu     sync.RWMutex
	keys   *authkeys.Keys
	serial []bool // per medium: classic form
}

func (c *wireCodec) SetKeys(cfg *config.Config) {
	c.mu.Lock()
	c.keys = cfg.Keys
	c.mu.Unlock()
}

func (c *wireCodec) Encode(m *wire.Message, link int) ([]byte, error) {
	c.mu.RLock()
	k := c.keys
	c.mu.RUnlock()
	if link >= 0 && link < len(c.serial) && c.serial[link] {
		s := m.Clone()
		if err := wire.Sign(s, k); err != nil {
			return nil, err
		}
		return wire.EncodeClassic(s)
	}
	return wire.Encode(m, k)
}

func (c *wireCodec) Decode(b []byte, _ int) (*wire.Message, error) {
	c.mu.RLock()
	k := c.keys
	c.mu.RUnlock()
	m, err := wire.Decode(b, k)
	if err != nil {
		return nil, explainRefusal(err, b, k)
	}
	return m, nil
}
