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
// recorded for it. Reply: {replayed 0|1, record}, the record being
// "n,k,m,f,l,e1h,e24h,pe,sa,sce,fr,fp,al" (see parseRecord).
//
// KEYS: counters hash, employee window zset, event id record, pair hash,
// short-call window zset, allowlist flag.
// ARGV: event time (unix ms), employee member, is call (0|1), missed (0|1),
// counter TTL, window TTL, id TTL (ms), short call (0|1).
//
// Each employee keeps its latest contact time (ZADD GT), so out-of-order
// events never move it back. Entries no window of the latest event can
// reach are trimmed. The event's own employee always counts in both of
// its windows, even when its kept time is later or was just trimmed; other
// employees count when their latest contact is in (ts-w, ts]. The
// short-call window works the same way for the employees reached by
// missed or short calls.
const observeScript = `
local rec = redis.call('GET', KEYS[3])
if rec then return {1, rec} end
local c, e, ts = KEYS[1], KEYS[2], tonumber(ARGV[1])
local h = redis.call('HMGET', c, 'n', 'k', 'm', 'f', 'l', 'fr', 'fp')
local n = (tonumber(h[1]) or 0) + 1
local k = (tonumber(h[2]) or 0) + tonumber(ARGV[3])
local m = (tonumber(h[3]) or 0) + tonumber(ARGV[4])
local f, l = h[4], h[5]
if not f or ts < tonumber(f) then f = ARGV[1] end
if not l or ts > tonumber(l) then l = ARGV[1] end
redis.call('HSET', c, 'n', n, 'k', k, 'm', m, 'f', f, 'l', l)
redis.call('PEXPIRE', c, ARGV[5])
redis.call('ZADD', e, 'GT', ARGV[1], ARGV[2])
local trim = string.format('%.0f', tonumber(l) - 86400000)
redis.call('ZREMRANGEBYSCORE', e, '-inf', trim)
local e1 = redis.call('ZCOUNT', e, string.format('(%.0f', ts - 3600000), ARGV[1])
local e24 = redis.call('ZCOUNT', e, string.format('(%.0f', ts - 86400000), ARGV[1])
local s = redis.call('ZSCORE', e, ARGV[2])
if not s or tonumber(s) > ts then e1 = e1 + 1; e24 = e24 + 1 end
redis.call('PEXPIRE', e, ARGV[6])
local p, short = KEYS[4], ARGV[8] == '1'
local pe = redis.call('HINCRBY', p, 'n:' .. ARGV[2], 1)
local st = tonumber(redis.call('HGET', p, 's:' .. ARGV[2]))
if short and (not st or ts > st) then
  st = ts
  redis.call('HSET', p, 's:' .. ARGV[2], ARGV[1])
end
local sa = -1
if st and st <= ts then sa = ts - st end
redis.call('PEXPIRE', p, ARGV[5])
local w = KEYS[5]
if short then redis.call('ZADD', w, 'GT', ARGV[1], ARGV[2]) end
redis.call('ZREMRANGEBYSCORE', w, '-inf', trim)
local sce = redis.call('ZCOUNT', w, string.format('(%.0f', ts - 86400000), ARGV[1])
if short then
  local s2 = redis.call('ZSCORE', w, ARGV[2])
  if not s2 or tonumber(s2) > ts then sce = sce + 1 end
end
if redis.call('ZCARD', w) > 0 then redis.call('PEXPIRE', w, ARGV[6]) end
local al = redis.call('EXISTS', KEYS[6])
rec = n .. ',' .. k .. ',' .. m .. ',' .. f .. ',' .. l .. ',' .. e1 .. ',' .. e24 .. ',' .. pe .. ',' ..
  string.format('%.0f', sa) .. ',' .. sce .. ',' .. (tonumber(h[6]) or 0) .. ',' .. (tonumber(h[7]) or 0) .. ',' .. al
redis.call('SET', KEYS[3], rec, 'PX', ARGV[7])
return {0, rec}
`

// Store keeps reputation counters in Redis. It is safe for concurrent use,
// also by several processes: each event is applied atomically by a script.
type Store struct {
	client redis.UniversalClient
	owned  bool // created by Dial: Close closes the client
	prefix string
	shas   [numScripts]string // the digests Redis names the scripts by
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
	st := &Store{
		client:     client,
		prefix:     cfg.Prefix,
		counterTTL: strconv.FormatInt(cfg.CounterTTL.Milliseconds(), 10),
		windowTTL:  strconv.FormatInt(cfg.WindowTTL.Milliseconds(), 10),
		idTTL:      strconv.FormatInt(cfg.IDRetention.Milliseconds(), 10),
	}
	for i, src := range scripts {
		sum := sha1.Sum([]byte(src))
		st.shas[i] = hex.EncodeToString(sum[:])
	}
	return st, nil
}

// The scripts, by index into Store.shas.
const (
	scriptObserve = iota
	scriptCampaign
	scriptFeedback
	numScripts
)

var scripts = [numScripts]string{observeScript, campaignScript, feedbackScript}

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

// client makes the go-redis client o describes: a single node, or a
// cluster with two or more addresses or Cluster set.
func (o Options) client() redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:         o.Addrs,
		IsClusterMode: o.Cluster,
		Username:      o.Username,
		Password:      o.Password,
		DB:            o.DB,
		TLSConfig:     o.TLS,
	})
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
	client := opts.client()
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

// LoadScript loads the scripts (SCRIPT LOAD), in one round trip: one
// pipeline, or on a cluster one pipeline to every master, in parallel. Observe and ApplyFeedback reload them by
// themselves when Redis lost them; loading at start only saves the first
// batch a round trip.
func (s *Store) LoadScript(ctx context.Context) error {
	s.roundTrips.Add(1)
	return loadScripts(ctx, s.client, scripts[:], s.shas[:])
}

// loadScripts loads srcs (SCRIPT LOAD) and checks that Redis names them
// by shas. A pipeline on a cluster client sends a keyless command to one
// node only; each master needs the scripts, so on a cluster they go to
// every master, one pipeline each, in parallel.
func loadScripts(ctx context.Context, client redis.UniversalClient, srcs, shas []string) error {
	if cc, ok := client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			if err := loadScriptsOn(ctx, node, srcs, shas); err != nil {
				return fmt.Errorf("%w (node %s)", err, node.Options().Addr)
			}
			return nil
		})
	}
	return loadScriptsOn(ctx, client, srcs, shas)
}

// loadScriptsOn loads srcs on the node c talks to, in one pipeline.
func loadScriptsOn(ctx context.Context, c interface{ Pipeline() redis.Pipeliner }, srcs, shas []string) error {
	pipe := c.Pipeline()
	cmds := make([]*redis.StringCmd, len(srcs))
	for i, src := range srcs {
		cmds[i] = pipe.ScriptLoad(ctx, src)
	}
	// A failed connection (refused AUTH, TLS) may leave the commands
	// without an error of their own: Exec's error is then the reason.
	_, execErr := pipe.Exec(ctx)
	for i, cmd := range cmds {
		sha, err := cmd.Result()
		if err == nil && sha == "" && execErr != nil {
			err = execErr
		}
		if err != nil {
			return fmt.Errorf("redisrep: loading script: %w", err)
		}
		if sha != shas[i] {
			return fmt.Errorf("redisrep: loading script: server returned digest %s, want %s", sha, shas[i])
		}
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
// (two more if Redis lost the scripts). An observation whose event id was
// recorded for its sender within IDRetention gets the recorded snapshot
// with Replayed set and changes nothing; a second observation of an event
// within one batch is such a replay. An empty SenderHash counts nothing
// for a sender; a Fingerprint is counted in its campaign either way.
// Errors are retryable: some observations may have been counted, and
// observing the batch again replays them.
func (s *Store) Observe(ctx context.Context, obs []models.Observation) ([]models.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisrep: observe batch of %d: %w", len(obs), err)
	}
	out := make([]models.Snapshot, len(obs))
	type op struct {
		i        int
		campaign bool
	}
	ops := make([]op, 0, len(obs))
	for i := range obs {
		if obs[i].SenderHash != "" {
			ops = append(ops, op{i: i})
		}
		if len(obs[i].Fingerprint) == models.FingerprintLen {
			ops = append(ops, op{i: i, campaign: true})
		}
	}
	if len(ops) == 0 {
		return out, nil
	}
	campaignReplayed := make([]bool, len(obs))
	build := func(pipe redis.Pipeliner, j int) *redis.Cmd {
		o := &obs[ops[j].i]
		if ops[j].campaign {
			keys, args := s.campaignArgs(o)
			return pipe.EvalSha(ctx, s.shas[scriptCampaign], keys, args...)
		}
		base := s.prefix + "{" + hashTag(o.SenderHash) + "}:"
		id := sha256.Sum256([]byte(o.EventID))
		emp := sha256.Sum256([]byte(o.Employee))
		call, missed, short := "0", "0", "0"
		if o.Kind == models.KindCall {
			call = "1"
		}
		if o.Missed {
			missed = "1"
		}
		if o.ShortCall {
			short = "1"
		}
		return pipe.EvalSha(ctx, s.shas[scriptObserve],
			[]string{base + "c", base + "e", base + "id:" + hex.EncodeToString(id[:16]), base + "p", base + "w", base + "allow"},
			strconv.FormatInt(o.TS.UnixMilli(), 10), hex.EncodeToString(emp[:8]), call, missed,
			s.counterTTL, s.windowTTL, s.idTTL, short)
	}
	handle := func(j int, cmd *redis.Cmd) error {
		i := ops[j].i
		if ops[j].campaign {
			var err error
			campaignReplayed[i], err = parseCampaign(cmd.Val(), &out[i])
			return err
		}
		snap, err := parseReply(cmd.Val())
		if err != nil {
			return err
		}
		// The campaign part may have been filled already: keep it.
		snap.Campaign, snap.CampaignSenders, snap.CampaignEmployees, snap.CampaignEvents = out[i].Campaign, out[i].CampaignSenders, out[i].CampaignEmployees, out[i].CampaignEvents
		out[i] = snap
		return nil
	}
	if err := s.pipelined(ctx, len(ops), build, handle); err != nil {
		return nil, fmt.Errorf("redisrep: observe batch of %d: %w", len(obs), err)
	}
	for i := range obs {
		if obs[i].SenderHash == "" && campaignReplayed[i] {
			out[i].Replayed = true
		}
	}
	return out, nil
}

// pipelined sends n script calls, built by build, in one pipeline and
// hands each reply to handle. Calls that failed with NOSCRIPT (Redis lost
// the scripts: restart, failover, SCRIPT FLUSH) are sent again once after
// the scripts are reloaded; the calls that ran are kept, since rerunning
// them would turn them into replays.
func (s *Store) pipelined(ctx context.Context, n int, build func(redis.Pipeliner, int) *redis.Cmd, handle func(int, *redis.Cmd) error) error {
	todo := make([]int, n)
	for j := range todo {
		todo[j] = j
	}
	for attempt := 0; ; attempt++ {
		pipe := s.client.Pipeline()
		cmds := make([]*redis.Cmd, len(todo))
		for k, j := range todo {
			cmds[k] = build(pipe, j)
		}
		// Exec's error is the first command's error; each is checked
		// below. A failed connection (refused AUTH, TLS) may leave the
		// commands without an error of their own: Exec's is the reason.
		s.roundTrips.Add(1)
		_, execErr := pipe.Exec(ctx)
		var retry []int
		for k, cmd := range cmds {
			err := cmd.Err()
			if err == nil && cmd.Val() == nil && execErr != nil {
				err = execErr
			}
			if err != nil {
				if redis.HasErrorPrefix(err, "NOSCRIPT") {
					retry = append(retry, todo[k])
					continue
				}
				return err
			}
			if err := handle(todo[k], cmd); err != nil {
				return err
			}
		}
		if len(retry) == 0 {
			return nil
		}
		if attempt == 1 {
			return redis.ErrNoScript
		}
		if err := s.LoadScript(ctx); err != nil {
			return err
		}
		todo = retry
	}
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

// parseRecord decodes "n,k,m,f,l,e1h,e24h,pe,sa,sce,fr,fp,al": events,
// calls, missed calls, first and last seen (unix ms), employees in 1h and
// 24h, events to this employee, ms since the latest short call to this
// employee (-1: none), employees reached by short calls in 24h, fraud
// reports, false positives, allowlisted (0|1).
func parseRecord(rec string) (models.Snapshot, error) {
	var f [13]int64
	f[8] = -1
	fields := len(f)
	if strings.Count(rec, ",") == 6 {
		fields = 7 // recorded by a version before the pair counters: they read as zero
	}
	rest := rec
	for i := range fields {
		field := rest
		if i < fields-1 {
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
		Events:                f[0],
		Calls:                 f[1],
		MissedCalls:           f[2],
		FirstSeen:             time.UnixMilli(f[3]).UTC(),
		LastSeen:              time.UnixMilli(f[4]).UTC(),
		Employees1h:           f[5],
		Employees24h:          f[6],
		PairEvents:            f[7],
		ShortCallSeen:         f[8] >= 0,
		ShortCallAgo:          time.Duration(max(f[8], 0)) * time.Millisecond,
		ShortCallEmployees24h: f[9],
		FraudReports:          f[10],
		FalsePositives:        f[11],
		Allowlisted:           f[12] == 1,
	}, nil
}
