package memrep

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"time"

	"fraudwatch/models"
)

// The campaign state mirrors redisrep's: candidate representatives per
// band of the MinHash signature, and per campaign the senders, employees
// and events within 24 hours of each event (event time).

// maxBandReps bounds the representatives kept per band, as redisrep does.
const maxBandReps = 16

type bandKey struct {
	band int
	a, b uint32
}

type rep struct {
	sig      string
	campaign string
}

type band struct {
	reps    []rep
	expires time.Time
}

type campaign struct {
	senders, employees, events map[string]int64 // member → latest time, unix ms
	expires                    time.Time
}

type campaignRecord struct {
	snap    models.Snapshot
	expires time.Time
}

type campaigns struct {
	bands   map[bandKey]*band
	byID    map[string]*campaign
	records map[[16]byte]campaignRecord
}

func newCampaigns() *campaigns {
	return &campaigns{
		bands:   make(map[bandKey]*band),
		byID:    make(map[string]*campaign),
		records: make(map[[16]byte]campaignRecord),
	}
}

// signatureString is the fingerprint as redisrep stores it: 8 hex digits
// per place.
func signatureString(f models.Fingerprint) string {
	b := make([]byte, 0, 8*len(f))
	for _, v := range f {
		b = fmt.Appendf(b, "%08x", v)
	}
	return string(b)
}

// CampaignID names the campaign that a fingerprint starts: derived from
// the fingerprint, so the same first message names the same campaign in
// every store.
func CampaignID(f models.Fingerprint) string {
	sum := sha1.Sum([]byte(signatureString(f)))
	return "cmp_" + hex.EncodeToString(sum[:])[:12]
}

// sigAgreement counts the places where two signatures agree.
func sigAgreement(a, b string) int {
	same := 0
	for i := 0; i+8 <= len(a) && i+8 <= len(b); i += 8 {
		if a[i:i+8] == b[i:i+8] {
			same++
		}
	}
	return same
}

// observe finds or starts the campaign of o's fingerprint and counts o in
// it. It returns the campaign part of the snapshot and whether the event
// had been counted before.
func (cs *campaigns) observe(now time.Time, o *models.Observation, ttl, idRetention time.Duration) (models.Snapshot, bool) {
	id := eventIDHash(o.EventID)
	if r, ok := cs.records[id]; ok && now.Before(r.expires) {
		return r.snap, true
	}
	sig := signatureString(o.Fingerprint)
	keys := make([]bandKey, 0, models.FingerprintLen/models.FingerprintBand)
	for i := 0; i+1 < len(o.Fingerprint); i += models.FingerprintBand {
		keys = append(keys, bandKey{band: i / models.FingerprintBand, a: o.Fingerprint[i], b: o.Fingerprint[i+1]})
	}
	// Of the campaigns the text matches, the one it agrees with in most
	// places, then the smallest id: the choice must not depend on the
	// order a store keeps its representatives in (redisrep does the same).
	cid, best := "", 0
	for _, k := range keys {
		b := cs.bands[k]
		if b == nil || !now.Before(b.expires) {
			continue
		}
		for _, r := range b.reps {
			n := sigAgreement(r.sig, sig)
			if n >= models.FingerprintMatch && (n > best || n == best && r.campaign < cid) {
				cid, best = r.campaign, n
			}
		}
	}
	if cid == "" {
		cid = CampaignID(o.Fingerprint)
	}
	for _, k := range keys {
		b := cs.bands[k]
		if b == nil || !now.Before(b.expires) {
			b = &band{}
			cs.bands[k] = b
		}
		present := false
		for _, r := range b.reps {
			present = present || r.sig == sig
		}
		if !present && len(b.reps) < maxBandReps {
			b.reps = append(b.reps, rep{sig: sig, campaign: cid})
		}
		b.expires = now.Add(ttl)
	}

	c := cs.byID[cid]
	if c == nil || !now.Before(c.expires) {
		c = &campaign{senders: map[string]int64{}, employees: map[string]int64{}, events: map[string]int64{}}
		cs.byID[cid] = c
	}
	c.expires = now.Add(ttl)
	ts := o.TS.UnixMilli()
	snap := models.Snapshot{
		Campaign:          cid,
		CampaignSenders:   countIn(c.senders, o.SenderHash, ts),
		CampaignEmployees: countIn(c.employees, o.Employee, ts),
		CampaignEvents:    countIn(c.events, o.EventID, ts),
	}
	cs.records[id] = campaignRecord{snap: snap, expires: now.Add(idRetention)}
	return snap, false
}

// countIn records member at ts (keeping its latest time), trims what no
// window can reach any more and counts the members seen within 24 hours
// either side of ts, member included: a campaign's events come from many
// partitions, out of order. An empty member (no sender) is not recorded.
func countIn(m map[string]int64, member string, ts int64) int64 {
	if member != "" {
		if prev, ok := m[member]; !ok || ts > prev {
			m[member] = ts
		}
	}
	day := window24h.Milliseconds()
	from, to := ts-day, ts+day
	var n int64
	for k, t := range m {
		switch {
		case t <= ts-2*day:
			delete(m, k)
		case k == member:
			n++
		case t > from && t <= to:
			n++
		}
	}
	return n
}

// sweep drops expired campaign state and returns how many entries live.
func (cs *campaigns) sweep(now time.Time) int {
	for k, b := range cs.bands {
		if !now.Before(b.expires) {
			delete(cs.bands, k)
		}
	}
	for k, c := range cs.byID {
		if !now.Before(c.expires) {
			delete(cs.byID, k)
		}
	}
	for k, r := range cs.records {
		if !now.Before(r.expires) {
			delete(cs.records, k)
		}
	}
	return len(cs.bands) + len(cs.byID) + len(cs.records)
}
