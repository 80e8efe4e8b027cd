package ovsdbclient

import (
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// fakeClock lets the test jump the backoff's elapsed time.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// TestReconnectBackoffNeverStops: hours into an outage the backoff still
// returns a wait (libovsdb panics on backoff.Stop), capped at the maximum.
func TestReconnectBackoffNeverStops(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	b := reconnectBackoff(2 * time.Second)
	b.Clock = clock
	b.Reset()
	for i := range 1000 {
		clock.now = clock.now.Add(time.Minute) // 1000 minutes: past libovsdb's old 15-minute limit
		d := b.NextBackOff()
		if d == backoff.Stop {
			t.Fatalf("attempt %d, %s into the outage: the backoff gave up", i, clock.now.Sub(time.Unix(0, 0)))
		}
		if d > 2*time.Second*3/2 { // the cap plus the randomization factor
			t.Fatalf("attempt %d: wait %s above the 2s cap", i, d)
		}
	}
}
