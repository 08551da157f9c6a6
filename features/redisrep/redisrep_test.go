package redisrep_test

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"fraudwatch/features/memrep"
	"fraudwatch/features/redisrep"
	"fraudwatch/features/reptest"
	"fraudwatch/models"
)

var _ reptest.Store = (*redisrep.Store)(nil)

// redisAddr returns the test server's host:port from FW_TEST_REDIS_ADDR.
// Without it the test is skipped, except under CI, where skipping would
// hide that the Redis tests never ran.
func redisAddr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv("FW_TEST_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("FW_TEST_REDIS_ADDR is not set and CI is: the Redis tests must run in CI")
		}
		tb.Skip("FW_TEST_REDIS_ADDR is not set: start redis-server and set it to host:port to run the Redis tests")
	}
	return addr
}

// roundTrips counts what the client sends: one pipeline or one command is
// one round trip. A new connection's handshake (HELLO, then CLIENT
// SETINFO in a pipeline) passes the hooks too; it is not counted, as it
// happens once per pooled connection, not per batch.
type roundTrips struct {
	pipelines, commands atomic.Int64
}

func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "auth", "select", "client":
		return true
	}
	return false
}

func (*roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			r.commands.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !handshake(cmds[0]) {
			r.pipelines.Add(1)
		}
		return next(ctx, cmds)
	}
}

func (r *roundTrips) take() (pipelines, commands int64) {
	return r.pipelines.Swap(0), r.commands.Swap(0)
}

// env is one test's store on the shared server, under its own prefix.
type env struct {
	*redisrep.Store
	client *redis.Client
	prefix string
	trips  *roundTrips
}

func newEnv(tb testing.TB, cfg redisrep.Config) *env {
	tb.Helper()
	addr := redisAddr(tb)
	client := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() { _ = client.Close() })
	trips := &roundTrips{}
	client.AddHook(trips)
	var b [6]byte
	_, _ = crand.Read(b[:])
	cfg.Prefix = "fwtest:" + hex.EncodeToString(b[:]) + ":"
	s, err := redisrep.New(client, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := s.LoadScript(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// The server is shared: delete only this test's keys, never FLUSH.
		keys, _ := scan(ctx, client, cfg.Prefix)
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	trips.take()
	return &env{Store: s, client: client, prefix: cfg.Prefix, trips: trips}
}

func scan(ctx context.Context, c *redis.Client, prefix string) ([]string, error) {
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	sort.Strings(keys)
	return keys, iter.Err()
}

// TTLs implements reptest.Inspector with SCAN and PTTL on the prefix.
func (e *env) TTLs(ctx context.Context) (map[string]time.Duration, error) {
	keys, err := scan(ctx, e.client, e.prefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Duration, len(keys))
	for _, k := range keys {
		ttl, err := e.client.PTTL(ctx, k).Result()
		if err != nil {
			return nil, err
		}
		out[k] = ttl
	}
	return out, nil
}

func TestConformance(t *testing.T) {
	reptest.Run(t, func(t *testing.T) reptest.Store {
		return newEnv(t, redisrep.Config{})
	})
}

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func msg(id, sender, employee string, ts time.Time) models.Observation {
	return models.Observation{EventID: id, SenderHash: sender, Employee: employee, Kind: models.KindMessage, TS: ts}
}

// TestSameAsMemrep feeds one random workload (out-of-order times over
// days, redeliveries, calls, senders without hash) to both stores and
// requires identical snapshots: the conformance suite checks chosen
// cases, this checks the two implementations of the windows agree.
func TestSameAsMemrep(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, redisrep.Config{})
	mem, err := memrep.New(memrep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var seen []models.Observation
	for b := range 40 {
		batch := make([]models.Observation, 50)
		for i := range batch {
			if len(seen) > 0 && rng.IntN(10) == 0 {
				batch[i] = seen[rng.IntN(len(seen))] // a redelivery
				continue
			}
			o := msg(fmt.Sprintf("ev-%d-%d", b, i), fmt.Sprintf("s%d", rng.IntN(8)), fmt.Sprintf("emp-%d", rng.IntN(15)),
				t0.Add(time.Duration(b)*30*time.Minute+time.Duration(rng.IntN(30*3600))*time.Second-15*time.Hour))
			switch rng.IntN(5) {
			case 0:
				o.SenderHash = ""
			case 1:
				o.Kind, o.Missed = models.KindCall, rng.IntN(2) == 0
			}
			batch[i] = o
			seen = append(seen, o)
		}
		got, err := e.Observe(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		want, err := mem.Observe(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			if got[i] != want[i] {
				t.Fatalf("batch %d, observation %d %+v:\nredis  %+v\nmemrep %+v", b, i, batch[i], got[i], want[i])
			}
		}
	}
}

func TestRoundTrips(t *testing.T) {
	big := make([]models.Observation, 0, 300)
	for i := range 300 {
		big = append(big, msg(fmt.Sprintf("event-%d", i), fmt.Sprintf("sender-%d", i%50), "emp", t0))
	}
	tests := []struct {
		name          string
		batches       [][]models.Observation
		wantPipelines int64
	}{
		{"a batch of 300 observations of 50 senders is one pipeline", [][]models.Observation{big}, 1},
		{"a redelivered batch is one pipeline", [][]models.Observation{big, big}, 2},
		{"a batch without senders sends nothing", [][]models.Observation{{msg("a", "", "emp", t0), msg("b", "", "emp", t0)}}, 0},
		{"an empty batch sends nothing", [][]models.Observation{nil}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, redisrep.Config{})
			for _, b := range tt.batches {
				if _, err := e.Observe(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			pipelines, commands := e.trips.take()
			if pipelines != tt.wantPipelines || commands != 0 {
				t.Errorf("%d pipelines and %d single commands, want %d pipelines and no command", pipelines, commands, tt.wantPipelines)
			}
		})
	}
}

func TestRecoversFromLostScript(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, redisrep.Config{})
	if _, err := e.Observe(ctx, []models.Observation{msg("A", "S", "emp-1", t0)}); err != nil {
		t.Fatal(err)
	}
	if err := e.client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	e.trips.take()
	got, err := e.Observe(ctx, []models.Observation{msg("A", "S", "emp-1", t0), msg("B", "S", "emp-2", t0.Add(time.Minute))})
	if err != nil {
		t.Fatalf("Observe after SCRIPT FLUSH: %v", err)
	}
	want := []models.Snapshot{
		{Events: 1, FirstSeen: t0, LastSeen: t0, Employees1h: 1, Employees24h: 1, PairEvents: 1, Replayed: true},
		{Events: 2, FirstSeen: t0, LastSeen: t0.Add(time.Minute), Employees1h: 2, Employees24h: 2, PairEvents: 1},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("snapshot %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// The failed pipeline, the pipelined SCRIPT LOADs, the rerun.
	if p, c := e.trips.take(); p != 3 || c != 0 {
		t.Errorf("recovery took %d pipelines and %d commands, want 3 and 0", p, c)
	}
	if _, err := e.Observe(ctx, []models.Observation{msg("C", "S", "emp-3", t0)}); err != nil {
		t.Fatal(err)
	}
	if p, c := e.trips.take(); p != 1 || c != 0 {
		t.Errorf("after recovery: %d pipelines and %d commands, want 1 and 0", p, c)
	}
}

func TestKeyLayout(t *testing.T) {
	ctx := context.Background()
	cfg := redisrep.Config{CounterTTL: 48 * time.Hour, WindowTTL: 30 * time.Hour, IDRetention: 3 * time.Hour}
	idHash := func(id string) string {
		sum := sha256.Sum256([]byte(id))
		return hex.EncodeToString(sum[:16])
	}
	tests := []struct {
		name   string
		sender string
		tag    string
	}{
		{"a hex sender hash is the hash tag itself", "9f86d081884c7d65", "9f86d081884c7d65"},
		{"a sender hash with braces is digested so its keys still share one tag", "a}b{c", "sha256:" + idHash("a}b{c")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, cfg)
			obs := []models.Observation{msg("wamid.HBgLNzkx", tt.sender, "emp-1042", t0)}
			if _, err := e.Observe(ctx, obs); err != nil {
				t.Fatal(err)
			}
			base := e.prefix + "{" + tt.tag + "}:"
			want := []struct {
				key, typ string
				ttl      time.Duration
			}{
				{base + "c", "hash", cfg.CounterTTL},
				{base + "e", "zset", cfg.WindowTTL},
				{base + "id:" + idHash("wamid.HBgLNzkx"), "string", cfg.IDRetention},
				{base + "p", "hash", cfg.CounterTTL},
			}
			keys, err := scan(ctx, e.client, e.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(want) {
				t.Fatalf("keys %q, want %d keys", keys, len(want))
			}
			for _, w := range want {
				typ, err := e.client.Type(ctx, w.key).Result()
				if err != nil || typ != w.typ {
					t.Errorf("TYPE %s = %q (err %v), want %q", w.key, typ, err, w.typ)
				}
				ttl, err := e.client.PTTL(ctx, w.key).Result()
				if err != nil || ttl <= w.ttl-time.Minute || ttl > w.ttl {
					t.Errorf("PTTL %s = %v (err %v), want just under %v", w.key, ttl, err, w.ttl)
				}
			}
			members, err := e.client.ZRange(ctx, base+"e", 0, -1).Result()
			if err != nil || len(members) != 1 || strings.Contains(members[0], "emp") {
				t.Errorf("window members %q (err %v): want one digest, not the employee id", members, err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	obs := []models.Observation{msg("A", "S", "emp-1", t0)}
	t.Run("a closed client's error is wrapped with the batch size", func(t *testing.T) {
		client := redis.NewClient(&redis.Options{Addr: redisAddr(t)})
		s, err := redisrep.New(client, redisrep.Config{Prefix: "fwtest:closed:"})
		if err != nil {
			t.Fatal(err)
		}
		_ = client.Close()
		_, err = s.Observe(context.Background(), obs)
		if err == nil || !strings.HasPrefix(err.Error(), "redisrep: observe batch of 1: ") || !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("err = %v, want redisrep: observe batch of 1: wrapping redis.ErrClosed", err)
		}
	})
	t.Run("an expired deadline is an error", func(t *testing.T) {
		e := newEnv(t, redisrep.Config{})
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		if _, err := e.Observe(ctx, obs); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("an unreachable server is an error", func(t *testing.T) {
		client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
		defer client.Close()
		s, err := redisrep.New(client, redisrep.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Observe(context.Background(), obs); err == nil {
			t.Fatal("Observe on an unreachable server returned no error")
		}
		if err := s.Ping(context.Background()); err == nil {
			t.Fatal("Ping on an unreachable server returned no error")
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     redisrep.Config
		wantErr string
	}{
		{"the zero config takes the defaults", redisrep.Config{}, ""},
		{"an id retention under an hour is rejected", redisrep.Config{IDRetention: 30 * time.Minute}, "IDRetention 30m0s must be at least 1h0m0s"},
		{"a window TTL shorter than the 24h window is rejected", redisrep.Config{WindowTTL: time.Hour}, "WindowTTL 1h0m0s must be at least the 24h window"},
		{"a negative counter TTL is rejected", redisrep.Config{CounterTTL: -time.Second}, "CounterTTL -1s must be positive"},
		{"a prefix with a brace is rejected", redisrep.Config{Prefix: "fw{x}:"}, `Prefix "fw{x}:" must not contain '{' or '}'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			_, newErr := redisrep.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), tt.cfg)
			if tt.wantErr == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate() = %v, New() = %v, want nil", err, newErr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			if newErr == nil {
				t.Fatal("New() accepted a config that Validate rejects")
			}
		})
	}
}

func TestDial(t *testing.T) {
	ctx := context.Background()
	t.Run("a single node is dialled, pinged and observed", func(t *testing.T) {
		e := newEnv(t, redisrep.Config{}) // for its prefix and the cleanup of its keys
		s, err := redisrep.Dial(ctx, redisrep.Options{Addrs: []string{redisAddr(t)}}, redisrep.Config{Prefix: e.prefix})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := s.Observe(ctx, []models.Observation{msg("A", "S", "emp-1", t0)})
		if err != nil || got[0].Events != 1 || got[0].Replayed {
			t.Fatalf("Observe = %+v, %v; want one counted event", got, err)
		}
	})
	for _, tt := range []struct {
		name    string
		opts    redisrep.Options
		wantErr string
	}{
		{"no address is rejected", redisrep.Options{}, "no Redis address"},
		{"a DB with a cluster is rejected", redisrep.Options{Addrs: []string{"a:1", "b:1"}, DB: 2}, "Redis Cluster has only DB 0"},
		{"an unreachable server fails the dial", redisrep.Options{Addrs: []string{"127.0.0.1:1"}}, "redisrep: dial [127.0.0.1:1]: redisrep: loading script:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			s, err := redisrep.Dial(ctx, tt.opts, redisrep.Config{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Dial() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func BenchmarkObserveBatch(b *testing.B) {
	e := newEnv(b, redisrep.Config{})
	reptest.Bench(b, e.Store)
}

func TestReportsReadsWhatVerdictsChanged(t *testing.T) {
	e := newEnv(t, redisrep.Config{})
	ctx := context.Background()
	const h = "v1:0123456789abcdef0123456789abcdef"
	read := func() (int64, int64, bool) {
		t.Helper()
		fr, fp, allow, err := e.Reports(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		return fr, fp, allow
	}
	if fr, fp, allow := read(); fr != 0 || fp != 0 || allow {
		t.Fatalf("an unknown sender: %d, %d, %v", fr, fp, allow)
	}
	steps := []struct {
		fb          models.Feedback
		fr, fp      int64
		allowlisted bool
	}{
		{models.Feedback{ID: "a", SenderHash: h, Verdict: models.FeedbackFraud}, 1, 0, false},
		{models.Feedback{ID: "a", SenderHash: h, Verdict: models.FeedbackFraud}, 1, 0, false}, // redelivered
		{models.Feedback{ID: "b", SenderHash: h, Verdict: models.FeedbackLegit, AllowFor: time.Hour}, 1, 1, true},
		{models.Feedback{ID: "c", SenderHash: h, Verdict: models.FeedbackFraud}, 2, 1, false},
	}
	for i, s := range steps {
		if err := e.ApplyFeedback(ctx, []models.Feedback{s.fb}); err != nil {
			t.Fatal(err)
		}
		if fr, fp, allow := read(); fr != s.fr || fp != s.fp || allow != s.allowlisted {
			t.Fatalf("after verdict %d: fraud %d, false positives %d, allowlisted %v; want %d, %d, %v", i, fr, fp, allow, s.fr, s.fp, s.allowlisted)
		}
	}
}
