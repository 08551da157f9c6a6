package memrep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fraudwatch/features/reptest"
	"fraudwatch/models"
)

var _ reptest.Store = (*Store)(nil)

// fakeClock is a wall clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// inspected exposes the store's live state under redisrep's key names
// (without prefix), for the suite's expiry check.
type inspected struct {
	*Store
}

func (s inspected) TTLs(context.Context) (map[string]time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	out := make(map[string]time.Duration)
	for k, c := range s.counters {
		if now.Before(c.expires) {
			out["{"+k+"}:c"] = c.expires.Sub(now)
		}
	}
	for k, w := range s.windows {
		if now.Before(w.expires) && len(w.latest) > 0 {
			out["{"+k+"}:e"] = w.expires.Sub(now)
		}
	}
	for k, r := range s.records {
		if now.Before(r.expires) {
			out["{"+k.sender+"}:id:"+hex.EncodeToString(k.id[:])] = r.expires.Sub(now)
		}
	}
	for k, p := range s.pairs {
		if now.Before(p.expires) {
			out["{"+k+"}:p"] = p.expires.Sub(now)
		}
	}
	for k, w := range s.shortCalls {
		if now.Before(w.expires) && len(w.latest) > 0 {
			out["{"+k+"}:w"] = w.expires.Sub(now)
		}
	}
	for k, until := range s.allowed {
		if now.Before(until) {
			out["{"+k+"}:allow"] = until.Sub(now)
		}
	}
	for k, until := range s.feedback {
		if now.Before(until) {
			sender, id, _ := strings.Cut(k, "\x00")
			sum := sha256.Sum256([]byte(id))
			out["{"+sender+"}:fb:"+hex.EncodeToString(sum[:16])] = until.Sub(now)
		}
	}
	for k, b := range s.campaigns.bands {
		if now.Before(b.expires) {
			out[fmt.Sprintf("{camp}:b:%d:%x:%x", k.band, k.a, k.b)] = b.expires.Sub(now)
		}
	}
	for id, c := range s.campaigns.byID {
		if now.Before(c.expires) {
			for suffix, m := range map[string]map[string]int64{"s": c.senders, "e": c.employees, "n": c.events} {
				if len(m) > 0 {
					out["{camp}:k:"+id+":"+suffix] = c.expires.Sub(now)
				}
			}
		}
	}
	for k, r := range s.campaigns.records {
		if now.Before(r.expires) {
			out["{camp}:id:"+hex.EncodeToString(k[:])] = r.expires.Sub(now)
		}
	}
	return out, nil
}

func newTestStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	reptest.Run(t, func(t *testing.T) reptest.Store {
		return inspected{newTestStore(t, Config{})}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"the zero config takes the defaults", Config{}, ""},
		{"an id retention under an hour is rejected", Config{IDRetention: 59 * time.Minute}, "IDRetention 59m0s must be at least 1h0m0s"},
		{"a window TTL shorter than the 24h window is rejected", Config{WindowTTL: 23 * time.Hour}, "WindowTTL 23h0m0s must be at least the 24h window"},
		{"a negative counter TTL is rejected", Config{CounterTTL: -time.Hour}, "CounterTTL -1h0m0s must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if _, err := New(tt.cfg); err != nil {
					t.Fatalf("New() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := New(tt.cfg); err == nil {
				t.Fatal("New() accepted a config that Validate rejects")
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	ts := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	obs := func(id, emp string, d time.Duration) []models.Observation {
		return []models.Observation{{EventID: id, SenderHash: "S", Employee: emp, Kind: models.KindMessage, TS: ts.Add(d)}}
	}
	cfg := Config{CounterTTL: 48 * time.Hour, WindowTTL: 25 * time.Hour, IDRetention: 2 * time.Hour}
	tests := []struct {
		name    string
		advance time.Duration // wall clock between the first event and the second
		second  []models.Observation
		want    models.Snapshot
	}{
		{
			name:    "within every TTL the second event sees the first",
			advance: time.Hour,
			second:  obs("B", "emp-2", time.Minute),
			want:    models.Snapshot{Events: 2, FirstSeen: ts, LastSeen: ts.Add(time.Minute), Employees1h: 2, Employees24h: 2, PairEvents: 1},
		},
		{
			name:    "within the id retention a redelivery is a replay",
			advance: 2*time.Hour - time.Millisecond,
			second:  obs("A", "emp-1", 0),
			want:    models.Snapshot{Events: 1, FirstSeen: ts, LastSeen: ts, Employees1h: 1, Employees24h: 1, PairEvents: 1, Replayed: true},
		},
		{
			name:    "after the id retention a redelivery is counted again",
			advance: 2 * time.Hour,
			second:  obs("A", "emp-1", 0),
			want:    models.Snapshot{Events: 2, FirstSeen: ts, LastSeen: ts, Employees1h: 1, Employees24h: 1, PairEvents: 2},
		},
		{
			name:    "after the window TTL the employee window starts empty but counters remain",
			advance: 25 * time.Hour,
			second:  obs("B", "emp-2", time.Minute),
			want:    models.Snapshot{Events: 2, FirstSeen: ts, LastSeen: ts.Add(time.Minute), Employees1h: 1, Employees24h: 1, PairEvents: 1},
		},
		{
			name:    "after the counter TTL the sender starts over",
			advance: 48 * time.Hour,
			second:  obs("B", "emp-2", time.Minute),
			want:    models.Snapshot{Events: 1, FirstSeen: ts.Add(time.Minute), LastSeen: ts.Add(time.Minute), Employees1h: 1, Employees24h: 1, PairEvents: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			c := cfg
			c.Now = clock.Now
			s := newTestStore(t, c)
			if _, err := s.Observe(context.Background(), obs("A", "emp-1", 0)); err != nil {
				t.Fatal(err)
			}
			clock.Advance(tt.advance)
			got, err := s.Observe(context.Background(), tt.second)
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != tt.want {
				t.Errorf("second snapshot = %+v\nwant %+v", got[0], tt.want)
			}
		})
	}
}

func TestSweepBoundsMemory(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestStore(t, Config{Now: clock.Now})
	ts := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	observeDistinct := func(prefix string, n int) {
		obs := make([]models.Observation, n)
		for i := range obs {
			obs[i] = models.Observation{EventID: prefix + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + hex.EncodeToString([]byte{byte(i >> 8), byte(i)}),
				SenderHash: prefix + hex.EncodeToString([]byte{byte(i >> 8), byte(i)}), Employee: "emp", TS: ts}
		}
		if _, err := s.Observe(context.Background(), obs); err != nil {
			t.Fatal(err)
		}
	}
	observeDistinct("old-", 3000)
	if got := len(s.counters) + len(s.windows) + len(s.records) + len(s.pairs); got != 12000 {
		t.Fatalf("after 3000 senders: %d entries, want 12000", got)
	}
	clock.Advance(DefaultCounterTTL)
	// The sweep runs once as many observations as there were entries
	// have been made since the previous one.
	observeDistinct("new-", 12000)
	if got := len(s.counters) + len(s.windows) + len(s.records) + len(s.pairs); got != 48000 {
		t.Fatalf("after the old state expired and 12000 new senders: %d entries, want 48000 (only the new ones)", got)
	}
}

func BenchmarkObserveBatch(b *testing.B) {
	s := newTestStore(b, Config{})
	reptest.Bench(b, s)
}
