package redisrep

// # Triage key layout
//
// With P the configured TriageConfig.Prefix and every key under the one
// hash tag {triage}:
//
//	P:{triage}:i:<id>     hash    v: the incident's version, j: its JSON
//	P:{triage}:index      zset    incident ids by LastSeen (unix ms)
//	P:{triage}:a:<id>     string  a stored alert's JSON
//	P:{triage}:ia:<id>    zset    an incident's alert ids by event time
//	                              (unix ms); equal times order by id, as
//	                              a zset orders equal scores
//	P:{triage}:g:<key>    string  the incident id a group key points at
//	P:{triage}:silences   hash    silence id → JSON
//	P:{triage}:c:<key>    hash    a counter hash (HINCRBY)
//	P:{triage}:audit      stream  audit entries, field j: JSON
//	P:{triage}:w          zset    when each index, silence and alert-list
//	                              member was last written (unix ms, wall
//	                              clock): "i:<id>", "s:<id>",
//	                              "a:<len(incident id)>:<incident id><alert id>"
//
// Every key written gets PEXPIRE Retention, so a record lives Retention
// after its last write; the silences hash lives Retention after the end of
// its longest silence, and w files a silence under its end. Members of the shared index, silences hash and
// alert lists cannot expire on their own: each commit removes the members
// that w says were last written more than Retention ago (at most 256 per
// commit, so a backlog is worked off over several commits). The wall
// clock, not event time, decides, so an incident whose events are old
// (a replay) but which was just written stays in the index as long as
// its hash lives. The audit stream is trimmed by MINID to Retention
// before its newest entry's time (or the wall clock, if earlier).
//
// One hash tag puts all triage state in one cluster slot, so that a
// Commit is one atomic script call. That is fine for triage's volume:
// it handles alerts, a small fraction of the events the reputation
// counters see, and analysts' actions.

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"fraudwatch/detector/triage"
	"fraudwatch/models"
)

// Defaults applied to zero TriageConfig fields.
const (
	DefaultTriagePrefix    = "fwt"
	DefaultTriageRetention = 30 * 24 * time.Hour
	minTriageRetention     = time.Hour
	maxTriageRetention     = 366 * 24 * time.Hour
)

// TriageConfig configures a TriageStore. Zero fields take the defaults.
type TriageConfig struct {
	// Prefix starts every key, so that several deployments or tests can
	// share a server; keys are "<Prefix>:{triage}:...". It must not contain
	// '{' or '}', which would move the cluster hash tag. Default
	// DefaultTriagePrefix.
	Prefix string
	// Retention is how long every record (incident, alert, group pointer,
	// silence, counter, audit entry) is kept after its last write. At
	// least 1h, at most a year; default DefaultTriageRetention. A silence
	// is kept Retention after it ends, however long it lasts.
	Retention time.Duration
}

func (c TriageConfig) withDefaults() TriageConfig {
	if c.Prefix == "" {
		c.Prefix = DefaultTriagePrefix
	}
	if c.Retention == 0 {
		c.Retention = DefaultTriageRetention
	}
	return c
}

// Validate reports what is wrong with c after defaults are applied.
func (c TriageConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if strings.ContainsAny(c.Prefix, "{}") {
		errs = append(errs, fmt.Errorf("redisrep: triage Prefix %q must not contain '{' or '}': they would change the cluster hash tag", c.Prefix))
	}
	if c.Retention < minTriageRetention || c.Retention > maxTriageRetention {
		errs = append(errs, fmt.Errorf("redisrep: triage Retention %v must be between %v and %v", c.Retention, minTriageRetention, maxTriageRetention))
	}
	return errors.Join(errs...)
}

// commitScript applies one triage.Change, or nothing. Reply: "ok",
// "dup" (the alert is stored) or "conflict:<incident id>".
//
// KEYS: index, w, silences, audit, alert (or the index again when there
// is none), the alert's incident's list (likewise), then the incident
// hashes, the group keys and the counter keys.
// ARGV: now, retention, cutoff (now-retention) in ms, the alert-list key
// prefix, the number of incidents, groups, silences, counters and audit
// entries, has alert (0|1), the alert's JSON, event time (ms), id and
// w member; then per incident: id, previous version, version, JSON,
// LastSeen (ms); per group: incident id; per silence: id, JSON, EndsAt (ms); per
// counter: field, by; per audit entry: At (ms), JSON.
const commitScript = `
local now, ret, cutoff = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ni, ng, ns, nc, na = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local hasAlert = ARGV[10] == '1'
local a = 15
if hasAlert and redis.call('EXISTS', KEYS[5]) == 1 then return 'dup' end
for i = 1, ni do
  local prev = ARGV[a + (i - 1) * 5 + 1]
  local v = redis.call('HGET', KEYS[6 + i], 'v')
  if prev == '0' then
    if v then return 'conflict:' .. ARGV[a + (i - 1) * 5] end
  elseif v ~= prev then
    return 'conflict:' .. ARGV[a + (i - 1) * 5]
  end
end
local w = KEYS[2]
for i = 1, ni do
  local o = a + (i - 1) * 5
  local k = KEYS[6 + i]
  redis.call('HSET', k, 'v', ARGV[o + 2], 'j', ARGV[o + 3])
  redis.call('PEXPIRE', k, ret)
  redis.call('ZADD', KEYS[1], ARGV[o + 4], ARGV[o])
  redis.call('ZADD', w, now, 'i:' .. ARGV[o])
end
if ni > 0 then redis.call('PEXPIRE', KEYS[1], ret) end
a = a + ni * 5
if hasAlert then
  redis.call('SET', KEYS[5], ARGV[11], 'PX', ret)
  redis.call('ZADD', KEYS[6], ARGV[12], ARGV[13])
  redis.call('PEXPIRE', KEYS[6], ret)
  redis.call('ZADD', w, now, ARGV[14])
end
local kg = 6 + ni
for i = 1, ng do
  redis.call('SET', KEYS[kg + i], ARGV[a + i - 1], 'PX', ret)
end
a = a + ng
for i = 1, ns do
  local o = a + (i - 1) * 3
  redis.call('HSET', KEYS[3], ARGV[o], ARGV[o + 1])
  local keep = math.max(tonumber(now), tonumber(ARGV[o + 2]))
  redis.call('ZADD', w, keep, 's:' .. ARGV[o])
  local ttl = keep - tonumber(now) + tonumber(ret)
  if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
end
a = a + ns * 3
local kc = kg + ng
for i = 1, nc do
  local o = a + (i - 1) * 2
  redis.call('HINCRBY', KEYS[kc + i], ARGV[o], ARGV[o + 1])
  redis.call('PEXPIRE', KEYS[kc + i], ret)
end
a = a + nc * 2
if na > 0 then
  local lastms, seq = -1, 0
  local top = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
  if #top > 0 then
    local ms, sq = string.match(top[1][1], '^(%d+)%-(%d+)$')
    lastms, seq = tonumber(ms), tonumber(sq)
  end
  for i = 1, na do
    local o = a + (i - 1) * 2
    local at = math.max(tonumber(ARGV[o]), 0)
    if at > lastms then
      lastms = at
      seq = 0
      if at == 0 then seq = 1 end
    else
      seq = seq + 1
    end
    redis.call('XADD', KEYS[4], string.format('%.0f-%.0f', lastms, seq), 'j', ARGV[o + 1])
  end
  local trim = math.min(tonumber(now), lastms) - tonumber(ret)
  if trim > 0 then redis.call('XTRIM', KEYS[4], 'MINID', string.format('%.0f', trim)) end
  redis.call('PEXPIRE', KEYS[4], ret)
end
local old = redis.call('ZRANGEBYSCORE', w, '-inf', '(' .. ARGV[3], 'LIMIT', 0, 256)
for _, m in ipairs(old) do
  local t = string.sub(m, 1, 2)
  if t == 'i:' then
    redis.call('ZREM', KEYS[1], string.sub(m, 3))
  elseif t == 's:' then
    redis.call('HDEL', KEYS[3], string.sub(m, 3))
  elseif t == 'a:' then
    local n, rest = string.match(m, '^a:(%d+):(.*)$')
    if n then
      n = tonumber(n)
      redis.call('ZREM', ARGV[4] .. string.sub(rest, 1, n), string.sub(rest, n + 1))
    end
  end
  redis.call('ZREM', w, m)
end
if redis.call('ZCARD', w) > 0 then redis.call('PEXPIRE', w, ret) end
return 'ok'
`

// TriageStore keeps triage state (incidents, alerts, group pointers,
// silences, counters, the audit log) in Redis. It is safe for concurrent
// use, also by several triage instances: Commit is one atomic script call
// that checks incident versions. Every key expires Retention after its
// last write.
type TriageStore struct {
	client    redis.UniversalClient
	owned     bool   // created by DialTriage: Close closes the client
	base      string // "<prefix>:{triage}:"
	retention time.Duration
	shas      []string
	now       func() time.Time // wall clock, for trimming; tests move it
}

var _ triage.Store = (*TriageStore)(nil)

// NewTriage returns a TriageStore on client, or the error of
// cfg.Validate. It does no I/O: call LoadScript at start to spare the
// first Commit a NOSCRIPT retry. The client stays the caller's. Any
// redis.UniversalClient works, including a ClusterClient.
func NewTriage(client redis.UniversalClient, cfg TriageConfig) (*TriageStore, error) {
	if client == nil {
		return nil, errors.New("redisrep: nil client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	sum := sha1.Sum([]byte(commitScript))
	return &TriageStore{
		client:    client,
		base:      cfg.Prefix + ":{triage}:",
		retention: cfg.Retention,
		shas:      []string{hex.EncodeToString(sum[:])},
		now:       time.Now,
	}, nil
}

// DialTriage connects to Redis (a single node or a cluster) as Dial does,
// loads the commit script and returns a TriageStore that owns the client:
// Close closes it. It fails if Redis cannot be reached before ctx ends.
func DialTriage(ctx context.Context, opts Options, cfg TriageConfig) (*TriageStore, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client := opts.client()
	s, err := NewTriage(client, cfg)
	if err == nil {
		s.owned = true
		err = s.LoadScript(ctx)
	}
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("triage store: dial %v: %w", opts.Addrs, err)
	}
	return s, nil
}

// Ping reports whether Redis answers, for readiness checks.
func (s *TriageStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("triage store: ping: %w", err)
	}
	return nil
}

// Close closes the client if DialTriage created it; a client given to
// NewTriage is left to its owner.
func (s *TriageStore) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}

// LoadScript loads the commit script on the node (every master of a
// cluster). Commit reloads it by itself when Redis lost it.
func (s *TriageStore) LoadScript(ctx context.Context) error {
	if err := loadScripts(ctx, s.client, []string{commitScript}, s.shas); err != nil {
		return fmt.Errorf("triage store: %w", err)
	}
	return nil
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Commit implements triage.Store: one script call (two more, a load and
// a rerun, when Redis lost the script). Incident.Version must be
// PrevVersion+1, and an incident may appear once per change; the
// alert needs an id and an incident id.
func (s *TriageStore) Commit(ctx context.Context, c triage.Change) error {
	what := "change"
	switch {
	case len(c.Incidents) > 0:
		what = fmt.Sprintf("incident %q", c.Incidents[0].Incident.ID)
	case c.Alert != nil:
		what = fmt.Sprintf("alert %q", c.Alert.Alert.ID)
	}
	keys, args, err := s.commitArgs(c)
	if err != nil {
		return fmt.Errorf("triage store: committing %s: %w", what, err)
	}
	if keys == nil {
		return nil // nothing to write
	}
	res, err := s.client.EvalSha(ctx, s.shas[0], keys, args...).Text()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// NOSCRIPT means nothing ran: rerunning after a reload is safe.
		if err = s.LoadScript(ctx); err == nil {
			res, err = s.client.EvalSha(ctx, s.shas[0], keys, args...).Text()
		}
	}
	switch {
	case err != nil:
		return fmt.Errorf("triage store: committing %s: %w", what, err)
	case res == "ok":
		return nil
	case res == "dup":
		return fmt.Errorf("triage store: committing %s: alert %q: %w", what, c.Alert.Alert.ID, triage.ErrDuplicateAlert)
	case strings.HasPrefix(res, "conflict:"):
		return fmt.Errorf("triage store: committing %s: incident %q: %w", what, strings.TrimPrefix(res, "conflict:"), triage.ErrConflict)
	}
	return fmt.Errorf("triage store: committing %s: unexpected script reply %q", what, res)
}

// commitArgs builds commitScript's keys and arguments; nil keys when c
// writes nothing.
func (s *TriageStore) commitArgs(c triage.Change) ([]string, []any, error) {
	if len(c.Incidents) == 0 && c.Alert == nil && len(c.Groups) == 0 && len(c.Silences) == 0 &&
		len(c.Counters) == 0 && len(c.Audit) == 0 {
		return nil, nil, nil
	}
	now := s.now()
	keys := []string{s.base + "index", s.base + "w", s.base + "silences", s.base + "audit", s.base + "index", s.base + "index"}
	args := []any{ms(now), strconv.FormatInt(s.retention.Milliseconds(), 10), ms(now.Add(-s.retention)), s.base + "ia:",
		len(c.Incidents), len(c.Groups), len(c.Silences), len(c.Counters), len(c.Audit), "0", "", "", "", ""}
	if c.Alert != nil {
		a := c.Alert
		if a.Alert.ID == "" || a.IncidentID == "" {
			return nil, nil, fmt.Errorf("alert %q: an alert needs an id and an incident id", a.Alert.ID)
		}
		j, err := json.Marshal(a)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding alert %q: %w", a.Alert.ID, err)
		}
		keys[4], keys[5] = s.base+"a:"+a.Alert.ID, s.base+"ia:"+a.IncidentID
		args[9], args[10], args[11], args[12] = "1", string(j), ms(a.Alert.EventTime), a.Alert.ID
		args[13] = "a:" + strconv.Itoa(len(a.IncidentID)) + ":" + a.IncidentID + a.Alert.ID
	}
	seen := make(map[string]bool, len(c.Incidents))
	for _, w := range c.Incidents {
		inc := w.Incident
		switch {
		case inc.ID == "":
			return nil, nil, errors.New("an incident needs an id")
		case seen[inc.ID]:
			return nil, nil, fmt.Errorf("incident %q is written twice in one change", inc.ID)
		case w.PrevVersion < 0 || inc.Version != w.PrevVersion+1:
			return nil, nil, fmt.Errorf("incident %q: version %d does not follow previous version %d", inc.ID, inc.Version, w.PrevVersion)
		}
		seen[inc.ID] = true
		j, err := json.Marshal(inc)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding incident %q: %w", inc.ID, err)
		}
		keys = append(keys, s.base+"i:"+inc.ID)
		args = append(args, inc.ID, strconv.FormatInt(w.PrevVersion, 10), strconv.FormatInt(inc.Version, 10), string(j), ms(inc.LastSeen))
	}
	groups := make([]string, 0, len(c.Groups))
	for k := range c.Groups {
		groups = append(groups, k)
	}
	sort.Strings(groups)
	for _, k := range groups {
		keys = append(keys, s.base+"g:"+k)
		args = append(args, c.Groups[k])
	}
	for _, sl := range c.Silences {
		if sl.ID == "" {
			return nil, nil, errors.New("a silence needs an id")
		}
		j, err := json.Marshal(sl)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding silence %q: %w", sl.ID, err)
		}
		// A silence is kept Retention after it ends, not after it was
		// written: one longer than Retention must not vanish while active.
		args = append(args, sl.ID, string(j), ms(sl.EndsAt))
	}
	for _, ca := range c.Counters {
		keys = append(keys, s.base+"c:"+ca.Key)
		args = append(args, ca.Field, strconv.FormatInt(ca.By, 10))
	}
	for _, e := range c.Audit {
		j, err := json.Marshal(e)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding audit entry %q: %w", e.Action, err)
		}
		args = append(args, ms(e.At), string(j))
	}
	return keys, args, nil
}

// Incident implements triage.Store.
func (s *TriageStore) Incident(ctx context.Context, id string) (models.Incident, error) {
	j, err := s.client.HGet(ctx, s.base+"i:"+id, "j").Result()
	if errors.Is(err, redis.Nil) {
		return models.Incident{}, fmt.Errorf("triage store: incident %q: %w", id, triage.ErrNotFound)
	}
	if err != nil {
		return models.Incident{}, fmt.Errorf("triage store: reading incident %q: %w", id, err)
	}
	var inc models.Incident
	if err := json.Unmarshal([]byte(j), &inc); err != nil {
		return models.Incident{}, fmt.Errorf("triage store: decoding incident %q: %w", id, err)
	}
	return inc, nil
}

// Group implements triage.Store.
func (s *TriageStore) Group(ctx context.Context, key string) (string, error) {
	id, err := s.client.Get(ctx, s.base+"g:"+key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("triage store: reading group %q: %w", key, err)
	}
	return id, nil
}

// Incidents implements triage.Store in two round trips: the index, then
// one pipeline of the incidents (those that expired since are skipped).
// Equal LastSeen times order by id.
func (s *TriageStore) Incidents(ctx context.Context, from, to time.Time) ([]models.Incident, error) {
	// The index holds whole milliseconds: take the milliseconds that
	// overlap [from, to) and filter the exact times below.
	lo, hi := "-inf", "+inf"
	if !from.IsZero() {
		lo = ms(from)
	}
	if !to.IsZero() {
		hi = ms(to)
	}
	ids, err := s.client.ZRevRangeByScore(ctx, s.base+"index", &redis.ZRangeBy{Min: lo, Max: hi}).Result()
	if err != nil {
		return nil, fmt.Errorf("triage store: reading incident index: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.base+"i:"+id, "j")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("triage store: reading %d incidents: %w", len(ids), err)
	}
	out := make([]models.Incident, 0, len(ids))
	for i, cmd := range cmds {
		j, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			continue // expired since it was indexed
		}
		if err != nil {
			return nil, fmt.Errorf("triage store: reading incident %q: %w", ids[i], err)
		}
		var inc models.Incident
		if err := json.Unmarshal([]byte(j), &inc); err != nil {
			return nil, fmt.Errorf("triage store: decoding incident %q: %w", ids[i], err)
		}
		if (!from.IsZero() && inc.LastSeen.Before(from)) || (!to.IsZero() && !inc.LastSeen.Before(to)) {
			continue
		}
		out = append(out, inc)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].LastSeen.Equal(out[j].LastSeen) {
			return out[i].LastSeen.After(out[j].LastSeen)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Alert implements triage.Store.
func (s *TriageStore) Alert(ctx context.Context, id string) (models.StoredAlert, error) {
	j, err := s.client.Get(ctx, s.base+"a:"+id).Result()
	if errors.Is(err, redis.Nil) {
		return models.StoredAlert{}, fmt.Errorf("triage store: alert %q: %w", id, triage.ErrNotFound)
	}
	if err != nil {
		return models.StoredAlert{}, fmt.Errorf("triage store: reading alert %q: %w", id, err)
	}
	var a models.StoredAlert
	if err := json.Unmarshal([]byte(j), &a); err != nil {
		return models.StoredAlert{}, fmt.Errorf("triage store: decoding alert %q: %w", id, err)
	}
	return a, nil
}

// IncidentAlerts implements triage.Store in two round trips: the
// incident's list (ordered by event time, then id), then one MGET;
// alerts that expired since are skipped. An unknown incident has none.
func (s *TriageStore) IncidentAlerts(ctx context.Context, incidentID string) ([]models.StoredAlert, error) {
	ids, err := s.client.ZRange(ctx, s.base+"ia:"+incidentID, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("triage store: reading alerts of incident %q: %w", incidentID, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.base + "a:" + id
	}
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("triage store: reading %d alerts of incident %q: %w", len(ids), incidentID, err)
	}
	out := make([]models.StoredAlert, 0, len(vals))
	for i, v := range vals {
		j, ok := v.(string)
		if !ok {
			continue // expired
		}
		var a models.StoredAlert
		if err := json.Unmarshal([]byte(j), &a); err != nil {
			return nil, fmt.Errorf("triage store: decoding alert %q: %w", ids[i], err)
		}
		out = append(out, a)
	}
	// The list orders by whole milliseconds; equal ones by id.
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].Alert.EventTime, out[j].Alert.EventTime
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return out[i].Alert.ID < out[j].Alert.ID
	})
	return out, nil
}

// Silences implements triage.Store.
func (s *TriageStore) Silences(ctx context.Context) ([]models.Silence, error) {
	m, err := s.client.HGetAll(ctx, s.base+"silences").Result()
	if err != nil {
		return nil, fmt.Errorf("triage store: reading silences: %w", err)
	}
	out := make([]models.Silence, 0, len(m))
	for id, j := range m {
		var sl models.Silence
		if err := json.Unmarshal([]byte(j), &sl); err != nil {
			return nil, fmt.Errorf("triage store: decoding silence %q: %w", id, err)
		}
		out = append(out, sl)
	}
	return out, nil
}

// Counters implements triage.Store.
func (s *TriageStore) Counters(ctx context.Context, key string) (map[string]int64, error) {
	m, err := s.client.HGetAll(ctx, s.base+"c:"+key).Result()
	if err != nil {
		return nil, fmt.Errorf("triage store: reading counters %q: %w", key, err)
	}
	out := make(map[string]int64, len(m))
	for f, v := range m {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("triage store: counters %q field %q: %w", key, f, err)
		}
		out[f] = n
	}
	return out, nil
}

// Audit implements triage.Store. Entries are in the order they were
// committed. Each entry is filed under its At time, or just after the
// log's newest entry when At is earlier (clocks of several instances
// differ), which keeps stream ids increasing; an entry without an ID gets
// its stream id, zero-padded ("<ms:13>-<seq:10>") so that ids compare
// as strings in log order.
func (s *TriageStore) Audit(ctx context.Context, since time.Time, limit int) ([]models.AuditEntry, error) {
	start := "-"
	if !since.IsZero() && since.UnixMilli() > 0 {
		start = strconv.FormatInt(since.UnixMilli(), 10)
	}
	const page = 500
	var out []models.AuditEntry
	for {
		n := int64(page)
		if limit > 0 {
			n = int64(min(page, limit-len(out)))
		}
		msgs, err := s.client.XRangeN(ctx, s.base+"audit", start, "+", n).Result()
		if err != nil {
			return nil, fmt.Errorf("triage store: reading audit log from %s: %w", start, err)
		}
		for _, m := range msgs {
			j, _ := m.Values["j"].(string)
			var e models.AuditEntry
			if err := json.Unmarshal([]byte(j), &e); err != nil {
				return nil, fmt.Errorf("triage store: decoding audit entry %s: %w", m.ID, err)
			}
			if e.At.Before(since) {
				continue // filed later than its time, see above
			}
			if e.ID == "" {
				e.ID = auditID(m.ID)
			}
			out = append(out, e)
		}
		if int64(len(msgs)) < n || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		next, err := nextStreamID(msgs[len(msgs)-1].ID)
		if err != nil {
			return nil, fmt.Errorf("triage store: reading audit log: %w", err)
		}
		start = next
	}
}

// auditID is the stream id "ms-seq" with both parts zero-padded, so that
// ids compare as strings in the order of the log.
func auditID(streamID string) string {
	msPart, seqPart, _ := strings.Cut(streamID, "-")
	m, err1 := strconv.ParseUint(msPart, 10, 64)
	q, err2 := strconv.ParseUint(seqPart, 10, 64)
	if err1 != nil || err2 != nil {
		return streamID
	}
	return fmt.Sprintf("%013d-%010d", m, q)
}

// nextStreamID returns the smallest stream id after id ("ms-seq").
func nextStreamID(id string) (string, error) {
	msPart, seqPart, ok := strings.Cut(id, "-")
	seq, err := strconv.ParseUint(seqPart, 10, 64)
	if !ok || err != nil {
		return "", fmt.Errorf("malformed stream id %q", id)
	}
	if seq == math.MaxUint64 {
		m, err := strconv.ParseUint(msPart, 10, 64)
		if err != nil {
			return "", fmt.Errorf("malformed stream id %q", id)
		}
		return strconv.FormatUint(m+1, 10) + "-0", nil
	}
	return msPart + "-" + strconv.FormatUint(seq+1, 10), nil
}
