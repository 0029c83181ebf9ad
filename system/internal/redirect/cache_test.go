package redirect

import (
	"testing"
	"time"

	"github.com/faultline/faultline/system/internal/resilience"
)

// The cache client's timeouts are the profile's: none has no socket deadline of its own
// (go-redis's -1), default keeps 1 s reads and writes and a 2 s dial.
func TestRedisOptionsFromProfile(t *testing.T) {
	for _, c := range []struct {
		profile                 string
		read, write, pool, dial time.Duration
	}{
		{"none", -1, -1, 0, 0},
		{"no-timeout", -1, -1, 0, 0},
		{"default", time.Second, time.Second, time.Second, 2 * time.Second},
	} {
		t.Run(c.profile, func(t *testing.T) {
			p, err := resilience.Load(c.profile)
			if err != nil {
				t.Fatal(err)
			}
			o := redisOptions("127.0.0.1:1", p.Limits)
			if o.ReadTimeout != c.read || o.WriteTimeout != c.write || o.PoolTimeout != c.pool || o.DialTimeout != c.dial {
				t.Fatalf("read %v write %v pool wait %v dial %v; want %v %v %v %v",
					o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.DialTimeout, c.read, c.write, c.pool, c.dial)
			}
			if o.PoolSize != RedisPoolSize || o.MaxRetries != -1 {
				t.Fatalf("pool %d, retries %d: want %d connections, no client retry", o.PoolSize, o.MaxRetries, RedisPoolSize)
			}
		})
	}
}
