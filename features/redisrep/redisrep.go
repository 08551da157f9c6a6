// Package redisrep keeps number-reputation counters in Redis. It is the
// only package that imports go-redis.
//
// # Key layout
//
// Per sender, with P the configured prefix and H the sender hash (the
// engine's keyed HMAC of the number; the number never reaches Redis):
//
//	P{H}:c           hash    n events, k calls, m missed calls,
//	                         f first and l last event time (unix ms);
//	                         TTL CounterTTL, refreshed by every counted event
//	P{H}:e           zset    member: 16 hex digits of SHA-256(employee id),
//	                         score: that employee's latest contact (unix ms);
//	                         TTL WindowTTL, refreshed by every counted event
//	P{H}:id:<hex32>  string  the snapshot recorded for an event, compact
//	                         "n,k,m,f,l,e1h,e24h"; <hex32> is the first 16
//	                         bytes of SHA-256(event id); TTL IDRetention
//
// The {H} hash tag puts a sender's keys in one Redis Cluster slot, and
// each script call touches one sender's keys only, so the same code runs
// on a single node and on a cluster. Every key expires.
//
// # Round trips
//
// Observe sends one pipeline per batch: an EVALSHA of one Lua script per
// observation with a sender. The script is atomic per event, which makes
// concurrent detectors safe, and idempotent per event id, which makes
// retries safe. When Redis lost the script (restart, failover, SCRIPT
// FLUSH) the NOSCRIPT commands are rerun once after SCRIPT LOAD.
package redisrep

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"fraudwatch/models"
)

// Defaults applied to zero Config fields. They match features/memrep.
const (
	DefaultPrefix      = "fw:"
	DefaultCounterTTL  = 30 * 24 * time.Hour // counters, first and last seen
	DefaultWindowTTL   = 25 * time.Hour      // the employee window: 24h plus slack for late events
	DefaultIDRetention = 7 * 24 * time.Hour  // recorded snapshots per event id
	minIDRetention     = time.Hour
	window24h          = 24 * time.Hour
)

// Config configures a Store. Zero fields take the defaults.
type Config struct {
	// Prefix starts every key, so that several deployments or tests can
	// share a server. It must not contain '{' or '}', which would move the
	// cluster hash tag. Default DefaultPrefix.
	Prefix string
	// CounterTTL is how long a sender's counters live after its last
	// counted event (wall clock). Default DefaultCounterTTL.
	CounterTTL time.Duration
	// WindowTTL is how long a sender's employee window lives after its
	// last counted event (wall clock). It must cover the 24h window.
	// Default DefaultWindowTTL.
	WindowTTL time.Duration
	// IDRetention is how long the snapshot recorded for an event id is
	// kept, and so how long a redelivery is recognised. Set it to at least
	// the inbound topic's retention. At least 1h; default DefaultIDRetention.
	IDRetention time.Duration
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.CounterTTL == 0 {
		c.CounterTTL = DefaultCounterTTL
	}
	if c.WindowTTL == 0 {
		c.WindowTTL = DefaultWindowTTL
	}
	if c.IDRetention == 0 {
		c.IDRetention = DefaultIDRetention
	}
	return c
}

// Validate reports what is wrong with c after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if strings.ContainsAny(c.Prefix, "{}") {
		errs = append(errs, fmt.Errorf("redisrep: Prefix %q must not contain '{' or '}': they would change the cluster hash tag", c.Prefix))
	}
	if c.CounterTTL < time.Millisecond {
		errs = append(errs, fmt.Errorf("redisrep: CounterTTL %v must be positive (at least 1ms)", c.CounterTTL))
	}
	if c.WindowTTL < window24h {
		errs = append(errs, fmt.Errorf("redisrep: WindowTTL %v must be at least the 24h window it holds", c.WindowTTL))
	}
	if c.IDRetention < minIDRetention {
		errs = append(errs, fmt.Errorf("redisrep: IDRetention %v must be at least %v; set it to the inbound topic's retention", c.IDRetention, minIDRetention))
	}
	return errors.Join(errs...)
}

// observeScript counts one event for one sender, or returns the snapshot
// recorded for it. Reply: {replayed 0|1, "n,k,m,f,l,e1h,e24h"}.
//
// KEYS: counters hash, employee window zset, event id record.
// ARGV: event time (unix ms), employee member, is call (0|1), missed (0|1),
// counter TTL, window TTL, id TTL (ms).
//
// Each employee keeps its latest contact time (ZADD GT), so out-of-order
// events never move it back. Entries no window of the latest event can
// reach are trimmed. The event's own employee always counts in both of
// its windows, even when its kept time is later or was just trimmed; other
// employees count when their latest contact is in (ts-w, ts].
const observeScript = `
local rec = redis.call('GET', KEYS[3])
if rec then return {1, rec} end
local c, e, ts = KEYS[1], KEYS[2], tonumber(ARGV[1])
local h = redis.call('HMGET', c, 'n', 'k', 'm', 'f', 'l')
local n = (tonumber(h[1]) or 0) + 1
local k = (tonumber(h[2]) or 0) + tonumber(ARGV[3])
local m = (tonumber(h[3]) or 0) + tonumber(ARGV[4])
local f, l = h[4], h[5]
if not f or ts < tonumber(f) then f = ARGV[1] end
if not l or ts > tonumber(l) then l = ARGV[1] end
redis.call('HSET', c, 'n', n, 'k', k, 'm', m, 'f', f, 'l', l)
redis.call('PEXPIRE', c, ARGV[5])
redis.call('ZADD', e, 'GT', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', e, '-inf', string.format('%.0f', tonumber(l) - 86400000))
local e1 = redis.call('ZCOUNT', e, string.format('(%.0f', ts - 3600000), ARGV[1])
local e24 = redis.call('ZCOUNT', e, string.format('(%.0f', ts - 86400000), ARGV[1])
local s = redis.call('ZSCORE', e, ARGV[2])
if not s or tonumber(s) > ts then e1 = e1 + 1; e24 = e24 + 1 end
redis.call('PEXPIRE', e, ARGV[6])
rec = n .. ',' .. k .. ',' .. m .. ',' .. f .. ',' .. l .. ',' .. e1 .. ',' .. e24
redis.call('SET', KEYS[3], rec, 'PX', ARGV[7])
return {0, rec}
`

// Store keeps reputation counters in Redis. It is safe for concurrent use,
// also by several processes: each event is applied atomically by a script.
type Store struct {
	client redis.UniversalClient
	owned  bool // created by Dial: Close closes the client
	prefix string
	sha    string
	// TTLs in milliseconds, formatted once.
	counterTTL, windowTTL, idTTL string
	// roundTrips counts pipelines and script loads sent to Redis.
	roundTrips atomic.Uint64
}

// RoundTrips returns how many round trips (pipelines and script loads)
// Observe has sent since the Store was made: for metrics and benchmarks,
// and for tests that hold the detector to one per batch.
func (s *Store) RoundTrips() uint64 { return s.roundTrips.Load() }

// New returns a Store on client, or the error of cfg.Validate. It does no
// I/O: call LoadScript at start to spare the first batch a NOSCRIPT
// retry. The client stays the caller's; Close does not close it. Any
// redis.UniversalClient works, including a ClusterClient.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisrep: nil client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	sum := sha1.Sum([]byte(observeScript)) // the digest Redis names scripts by
	return &Store{
		client:     client,
		prefix:     cfg.Prefix,
		sha:        hex.EncodeToString(sum[:]),
		counterTTL: strconv.FormatInt(cfg.CounterTTL.Milliseconds(), 10),
		windowTTL:  strconv.FormatInt(cfg.WindowTTL.Milliseconds(), 10),
		idTTL:      strconv.FormatInt(cfg.IDRetention.Milliseconds(), 10),
	}, nil
}

// Options says how Dial connects.
type Options struct {
	// Addrs are host:port addresses: one for a single node, or the seed
	// nodes of a cluster. Two or more always mean a cluster.
	Addrs []string
	// Cluster selects cluster mode with a single address (a cluster's
	// configuration endpoint).
	Cluster bool
	// Username and Password authenticate (Redis ACL); both may be empty.
	Username, Password string
	// DB selects the database of a single node; a cluster has only DB 0.
	DB int
	// TLS, when not nil, connects with TLS.
	TLS *tls.Config
}

// Validate reports what is wrong with o.
func (o Options) Validate() error {
	if len(o.Addrs) == 0 {
		return errors.New("redisrep: no Redis address: set at least one host:port")
	}
	if (o.Cluster || len(o.Addrs) > 1) && o.DB != 0 {
		return fmt.Errorf("redisrep: DB %d with a cluster: Redis Cluster has only DB 0", o.DB)
	}
	return nil
}

// Dial connects to Redis (a single node or a cluster), loads the script
// on every node and returns a Store that owns the client: Close closes
// it. It fails if Redis cannot be reached before ctx ends.
func Dial(ctx context.Context, opts Options, cfg Config) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:         opts.Addrs,
		IsClusterMode: opts.Cluster,
		Username:      opts.Username,
		Password:      opts.Password,
		DB:            opts.DB,
		TLSConfig:     opts.TLS,
	})
	s, err := New(client, cfg)
	if err == nil {
		s.owned = true
		err = s.LoadScript(ctx)
	}
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisrep: dial %v: %w", opts.Addrs, err)
	}
	return s, nil
}

// LoadScript loads the observe script (SCRIPT LOAD, on every master of a
// cluster). Observe reloads it by itself when Redis lost it; loading at
// start only saves the first batch a round trip.
func (s *Store) LoadScript(ctx context.Context) error {
	s.roundTrips.Add(1)
	sha, err := s.client.ScriptLoad(ctx, observeScript).Result()
	if err != nil {
		return fmt.Errorf("redisrep: loading script: %w", err)
	}
	if sha != s.sha {
		return fmt.Errorf("redisrep: loading script: server returned digest %s, want %s", sha, s.sha)
	}
	return nil
}

// Ping reports whether Redis answers, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisrep: ping: %w", err)
	}
	return nil
}

// Close closes the client if Dial created it; a client given to New is
// left to its owner.
func (s *Store) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}

// Observe counts each observation in order and returns its snapshot, the
// observation included, in the order of obs, in one pipelined round trip
// (two more if Redis lost the script). An observation whose event id was
// recorded for its sender within IDRetention gets the recorded snapshot
// with Replayed set and changes nothing; a second observation of an event
// within one batch is such a replay. An empty SenderHash gets the zero
// Snapshot and sends nothing. Errors are retryable: some observations may
// have been counted, and observing the batch again replays them.
func (s *Store) Observe(ctx context.Context, obs []models.Observation) ([]models.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisrep: observe batch of %d: %w", len(obs), err)
	}
	out := make([]models.Snapshot, len(obs))
	todo := make([]int, 0, len(obs))
	for i := range obs {
		if obs[i].SenderHash != "" {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	retry, err := s.run(ctx, obs, todo, out)
	if err == nil && len(retry) > 0 {
		// Redis lost the script. The commands that ran before it did are
		// kept: rerunning them would turn them into replays.
		if err = s.LoadScript(ctx); err == nil {
			retry, err = s.run(ctx, obs, retry, out)
			if err == nil && len(retry) > 0 {
				err = redis.ErrNoScript
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("redisrep: observe batch of %d: %w", len(obs), err)
	}
	return out, nil
}

// run sends one pipeline for obs[todo] and fills out. It returns the
// indexes whose command failed with NOSCRIPT, or the first other error.
func (s *Store) run(ctx context.Context, obs []models.Observation, todo []int, out []models.Snapshot) ([]int, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.Cmd, len(todo))
	for j, i := range todo {
		o := &obs[i]
		base := s.prefix + "{" + hashTag(o.SenderHash) + "}:"
		id := sha256.Sum256([]byte(o.EventID))
		emp := sha256.Sum256([]byte(o.Employee))
		call, missed := "0", "0"
		if o.Kind == models.KindCall {
			call = "1"
		}
		if o.Missed {
			missed = "1"
		}
		cmds[j] = pipe.EvalSha(ctx, s.sha,
			[]string{base + "c", base + "e", base + "id:" + hex.EncodeToString(id[:16])},
			strconv.FormatInt(o.TS.UnixMilli(), 10), hex.EncodeToString(emp[:8]), call, missed,
			s.counterTTL, s.windowTTL, s.idTTL)
	}
	// Exec's error is the first command's error; each is checked below.
	s.roundTrips.Add(1)
	_, _ = pipe.Exec(ctx)
	var retry []int
	for j, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			if redis.HasErrorPrefix(err, "NOSCRIPT") {
				retry = append(retry, todo[j])
				continue
			}
			return nil, err
		}
		snap, err := parseReply(cmd.Val())
		if err != nil {
			return nil, err
		}
		out[todo[j]] = snap
	}
	return retry, nil
}

// hashTag is the sender hash itself, unless it holds a brace that would
// split the hash tag; then its digest, so a sender's keys still share a
// slot. The engine's hashes are hex and never take that path.
func hashTag(senderHash string) string {
	if !strings.ContainsAny(senderHash, "{}") {
		return senderHash
	}
	sum := sha256.Sum256([]byte(senderHash))
	return "sha256:" + hex.EncodeToString(sum[:16])
}

func parseReply(v any) (models.Snapshot, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return models.Snapshot{}, fmt.Errorf("unexpected script reply %v", v)
	}
	flag, ok1 := a[0].(int64)
	rec, ok2 := a[1].(string)
	if !ok1 || !ok2 {
		return models.Snapshot{}, fmt.Errorf("unexpected script reply %v", v)
	}
	snap, err := parseRecord(rec)
	if err != nil {
		return models.Snapshot{}, err
	}
	snap.Replayed = flag == 1
	return snap, nil
}

// parseRecord decodes "n,k,m,f,l,e1h,e24h".
func parseRecord(rec string) (models.Snapshot, error) {
	var f [7]int64
	rest := rec
	for i := range f {
		field := rest
		if i < len(f)-1 {
			cut := strings.IndexByte(rest, ',')
			if cut < 0 {
				return models.Snapshot{}, fmt.Errorf("malformed snapshot record %q", rec)
			}
			field, rest = rest[:cut], rest[cut+1:]
		}
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return models.Snapshot{}, fmt.Errorf("malformed snapshot record %q: %w", rec, err)
		}
		f[i] = n
	}
	return models.Snapshot{
		Events:       f[0],
		Calls:        f[1],
		MissedCalls:  f[2],
		FirstSeen:    time.UnixMilli(f[3]).UTC(),
		LastSeen:     time.UnixMilli(f[4]).UTC(),
		Employees1h:  f[5],
		Employees24h: f[6],
	}, nil
}
