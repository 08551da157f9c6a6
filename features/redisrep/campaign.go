package redisrep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"fraudwatch/models"
)

// Campaign counts take the members seen within 24 hours either side of the
// event: a campaign's messages come from many senders, so from many
// partitions, and reach the detector out of order.
//
// Campaign keys, with P the prefix. They share the {camp} hash tag: a
// campaign is found through any of its bands, so finding and counting it
// must be one atomic script on one slot. That slot is hot in a cluster;
// each script call is a few hash and zset operations.
//
//	P{camp}:b:<i>:<a>:<b>   hash    representatives of band i (two places of
//	                                the signature): signature → campaign id;
//	                                at most 16; TTL WindowTTL
//	P{camp}:k:<id>:s|e|n    zset    the campaign's senders, employees and
//	                                events with their latest time (unix ms),
//	                                trimmed to 48h; TTL WindowTTL
//	P{camp}:id:<hex32>      string  "id,senders,employees,events" recorded
//	                                for an event; TTL IDRetention

// campaignScript finds or starts the campaign of a signature and counts
// one event in it, or returns what it recorded for the event.
// Reply: {replayed 0|1, "campaign,senders,employees,events"}.
//
// KEYS: the band hashes (models.FingerprintLen/FingerprintBand of them),
// then the event id record. The campaign's zsets are derived from the
// campaign id and share the {camp} slot.
// ARGV: signature (8 hex digits per place), event time (unix ms), sender
// member ("" without a sender), employee member, event member, window TTL,
// id TTL (ms), campaign key prefix, places that must agree.
const campaignScript = `
local nb = #KEYS - 1
local rec = redis.call('GET', KEYS[nb + 1])
if rec then return {1, rec} end
local sig, ts, need = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[9])
local function same(a)
  local n = 0
  for i = 1, #sig, 8 do
    if string.sub(a, i, i + 7) == string.sub(sig, i, i + 7) then n = n + 1 end
  end
  return n
end
-- Of the campaigns the text matches, the one it agrees with in most
-- places, then the smallest id: HGETALL's order follows the hash seed,
-- so taking the first match would differ per server (memrep does the same).
local cid, best
for b = 1, nb do
  local reps = redis.call('HGETALL', KEYS[b])
  for j = 1, #reps, 2 do
    local n = same(reps[j])
    if n >= need and (not best or n > best or (n == best and reps[j + 1] < cid)) then
      cid, best = reps[j + 1], n
    end
  end
end
if not cid then cid = 'cmp_' .. string.sub(redis.sha1hex(sig), 1, 12) end
for b = 1, nb do
  if redis.call('HLEN', KEYS[b]) < 16 then redis.call('HSETNX', KEYS[b], sig, cid) end
  redis.call('PEXPIRE', KEYS[b], ARGV[6])
end
local from, to = ts - 86400000, ts + 86400000
local function count(key, member)
  if member ~= '' then redis.call('ZADD', key, 'GT', ARGV[2], member) end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', ts - 172800000))
  local n = redis.call('ZCOUNT', key, string.format('(%.0f', from), string.format('%.0f', to))
  if member ~= '' then
    local s = redis.call('ZSCORE', key, member)
    if not s or tonumber(s) > to then n = n + 1 end
  end
  if redis.call('ZCARD', key) > 0 then redis.call('PEXPIRE', key, ARGV[6]) end
  return n
end
local base = ARGV[8] .. cid .. ':'
rec = cid .. ',' .. count(base .. 's', ARGV[3]) .. ',' .. count(base .. 'e', ARGV[4]) .. ',' .. count(base .. 'n', ARGV[5])
redis.call('SET', KEYS[nb + 1], rec, 'PX', ARGV[7])
return {0, rec}
`

// campaignArgs builds the keys and arguments of campaignScript for o.
func (s *Store) campaignArgs(o *models.Observation) ([]string, []any) {
	base := s.prefix + "{camp}:"
	sig := make([]byte, 0, 8*len(o.Fingerprint))
	for _, v := range o.Fingerprint {
		sig = fmt.Appendf(sig, "%08x", v)
	}
	keys := make([]string, 0, len(o.Fingerprint)/models.FingerprintBand+1)
	for i := 0; i+models.FingerprintBand <= len(o.Fingerprint); i += models.FingerprintBand {
		k := base + "b:" + strconv.Itoa(i/models.FingerprintBand)
		for _, v := range o.Fingerprint[i : i+models.FingerprintBand] {
			k += ":" + strconv.FormatUint(uint64(v), 16)
		}
		keys = append(keys, k)
	}
	id := sha256.Sum256([]byte(o.EventID))
	keys = append(keys, base+"id:"+hex.EncodeToString(id[:16]))
	sender := ""
	if o.SenderHash != "" {
		sh := sha256.Sum256([]byte(o.SenderHash))
		sender = hex.EncodeToString(sh[:8])
	}
	emp := sha256.Sum256([]byte(o.Employee))
	return keys, []any{string(sig), strconv.FormatInt(o.TS.UnixMilli(), 10), sender,
		hex.EncodeToString(emp[:8]), hex.EncodeToString(id[:8]), s.windowTTL, s.idTTL,
		base + "k:", strconv.Itoa(models.FingerprintMatch)}
}

// parseCampaign decodes "campaign,senders,employees,events" into snap.
func parseCampaign(v any, snap *models.Snapshot) (replayed bool, err error) {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return false, fmt.Errorf("unexpected campaign script reply %v", v)
	}
	flag, ok1 := a[0].(int64)
	rec, ok2 := a[1].(string)
	parts := strings.Split(rec, ",")
	if !ok1 || !ok2 || len(parts) != 4 {
		return false, fmt.Errorf("unexpected campaign script reply %v", v)
	}
	var n [3]int64
	for i := range n {
		if n[i], err = strconv.ParseInt(parts[i+1], 10, 64); err != nil {
			return false, fmt.Errorf("malformed campaign record %q: %w", rec, err)
		}
	}
	snap.Campaign, snap.CampaignSenders, snap.CampaignEmployees, snap.CampaignEvents = parts[0], n[0], n[1], n[2]
	return flag == 1, nil
}

// feedbackScript applies one SOC verdict once. Reply: 1 applied, 0 seen.
//
// KEYS: counters hash, allowlist flag, feedback id record.
// ARGV: verdict (fraud|legit), allowlist TTL, counter TTL, id TTL (ms).
const feedbackScript = `
if not redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[4]) then return 0 end
if ARGV[1] == 'fraud' then
  redis.call('HINCRBY', KEYS[1], 'fr', 1)
  redis.call('DEL', KEYS[2])
else
  redis.call('HINCRBY', KEYS[1], 'fp', 1)
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`

// ApplyFeedback applies SOC verdicts in one pipelined round trip: a fraud
// verdict counts a fraud report for the sender and ends its allowlisting;
// a legit verdict counts a false positive and allowlists the sender for
// AllowFor. Each feedback ID is applied once per sender within
// IDRetention. Feedback without a sender hash, with an unknown verdict or
// a legit verdict without a positive AllowFor is skipped (the caller
// validates). Errors are retryable.
func (s *Store) ApplyFeedback(ctx context.Context, fbs []models.Feedback) error {
	var todo []*models.Feedback
	for i := range fbs {
		f := &fbs[i]
		if f.SenderHash == "" || !(f.Verdict == models.FeedbackFraud || (f.Verdict == models.FeedbackLegit && f.AllowFor > 0)) {
			continue
		}
		todo = append(todo, f)
	}
	if len(todo) == 0 {
		return nil
	}
	build := func(pipe redis.Pipeliner, j int) *redis.Cmd {
		f := todo[j]
		base := s.prefix + "{" + hashTag(f.SenderHash) + "}:"
		id := sha256.Sum256([]byte(f.ID))
		allow := f.AllowFor.Milliseconds()
		if allow <= 0 {
			allow = 1
		}
		return pipe.EvalSha(ctx, s.shas[scriptFeedback],
			[]string{base + "c", base + "allow", base + "fb:" + hex.EncodeToString(id[:16])},
			f.Verdict, strconv.FormatInt(allow, 10), s.counterTTL, s.idTTL)
	}
	if err := s.pipelined(ctx, len(todo), build, func(int, *redis.Cmd) error { return nil }); err != nil {
		return fmt.Errorf("redisrep: feedback batch of %d: %w", len(fbs), err)
	}
	return nil
}

// Reports returns the SOC's fraud reports and false positives counted for
// a sender, and whether it is allowlisted now: what verdicts have changed.
// It reads only; tools and tests use it to check that a verdict arrived.
func (s *Store) Reports(ctx context.Context, senderHash string) (fraud, falsePositives int64, allowlisted bool, err error) {
	base := s.prefix + "{" + hashTag(senderHash) + "}:"
	pipe := s.client.Pipeline()
	counts := pipe.HMGet(ctx, base+"c", "fr", "fp")
	allow := pipe.Exists(ctx, base+"allow")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, false, fmt.Errorf("redisrep: reading the reports of a sender: %w", err)
	}
	num := func(v any) int64 {
		str, _ := v.(string)
		n, _ := strconv.ParseInt(str, 10, 64)
		return n
	}
	vals := counts.Val()
	return num(vals[0]), num(vals[1]), allow.Val() == 1, nil
}
