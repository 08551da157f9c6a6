package reptest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"fraudwatch/models"
)

// FeedbackStore is implemented by stores that take SOC verdicts
// (detector.FeedbackStore). Every store in the project does; the suite
// fails a store that does not.
type FeedbackStore interface {
	ApplyFeedback(ctx context.Context, fbs []models.Feedback) error
}

// shortCall is a missed call the detector marked short.
func shortCall(id, sender, employee string, ts time.Time) models.Observation {
	o := ev(id, sender, employee, "x", ts)
	o.ShortCall = true
	return o
}

// withText gives an observation a fingerprint.
func withText(o models.Observation, f models.Fingerprint) models.Observation {
	o.Fingerprint = f
	return o
}

// fingerprint builds a signature whose places are base+i, with the places
// in differ changed: two signatures from one base agree everywhere else.
func fingerprint(base uint32, differ ...int) models.Fingerprint {
	f := make(models.Fingerprint, models.FingerprintLen)
	for i := range f {
		f[i] = base + uint32(i)
	}
	for _, i := range differ {
		f[i] = ^f[i]
	}
	return f
}

// campaignID is the id the first message of a campaign gives it, computed
// here independently of the stores.
func campaignID(f models.Fingerprint) string {
	var b strings.Builder
	for _, v := range f {
		fmt.Fprintf(&b, "%08x", v)
	}
	sum := sha1.Sum([]byte(b.String()))
	return "cmp_" + hex.EncodeToString(sum[:])[:12]
}

// runCrossEvent checks the state that spans events: pairs of sender and
// employee, short calls, SOC feedback and campaigns.
func runCrossEvent(t *testing.T, newStore func(t *testing.T) Store) {
	const h, m = time.Hour, time.Minute
	type pairWant struct {
		pair    int64
		seen    bool
		ago     time.Duration
		reached int64
	}
	pairScenarios := []struct {
		name string
		obs  []models.Observation
		want []pairWant
	}{
		{
			name: "the first event to an employee is a first contact, the next ones are not",
			obs: batch(ev("a", "S", "emp-1", "m", at(0)), ev("b", "S", "emp-1", "m", at(m)),
				ev("c", "S", "emp-2", "m", at(2*m)), ev("a", "S", "emp-1", "m", at(0))),
			want: []pairWant{{pair: 1}, {pair: 2}, {pair: 1}, {pair: 1}},
		},
		{
			name: "a message after a missed call to the same employee sees the call, another employee's does not",
			obs: batch(shortCall("x", "S", "emp-1", at(0)), ev("y", "S", "emp-1", "m", at(10*m)),
				ev("z", "S", "emp-2", "m", at(11*m)), ev("w", "S", "emp-1", "m", at(-5*m))),
			want: []pairWant{{pair: 1, seen: true, ago: 0, reached: 1}, {pair: 2, seen: true, ago: 10 * m, reached: 1},
				{pair: 1, reached: 1}, {pair: 3, reached: 0}},
		},
		{
			name: "an answered long call is not a short call",
			obs:  batch(ev("x", "S", "emp-1", "c", at(0)), ev("y", "S", "emp-1", "m", at(m))),
			want: []pairWant{{pair: 1}, {pair: 2}},
		},
		{
			name: "short calls to many employees count the employees reached in 24 hours",
			obs: batch(shortCall("1", "S", "emp-1", at(0)), shortCall("2", "S", "emp-2", at(m)),
				shortCall("3", "S", "emp-3", at(2*m)), shortCall("4", "S", "emp-1", at(3*m)),
				ev("5", "S", "emp-4", "m", at(4*m)), shortCall("6", "S", "emp-5", at(25*h))),
			want: []pairWant{{pair: 1, seen: true, reached: 1}, {pair: 1, seen: true, reached: 2},
				{pair: 1, seen: true, reached: 3}, {pair: 2, seen: true, reached: 3},
				{pair: 1, reached: 3}, {pair: 1, seen: true, reached: 1}},
		},
		{
			name: "a short call arriving more than a day late counts its own employee",
			obs:  batch(shortCall("1", "S", "emp-1", at(48*h)), shortCall("2", "S", "emp-2", at(0))),
			want: []pairWant{{pair: 1, seen: true, reached: 1}, {pair: 1, seen: true, reached: 1}},
		},
	}
	for _, sc := range pairScenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := newStore(t)
			for i, o := range sc.obs {
				got := observe(t, s, batch(o))[0]
				w := sc.want[i]
				if got.PairEvents != w.pair || got.ShortCallSeen != w.seen || got.ShortCallAgo != w.ago || got.ShortCallEmployees24h != w.reached {
					t.Errorf("event %d (%q): pair events %d, short call seen %v %v ago, employees reached %d; want %d, %v %v, %d",
						i, o.EventID, got.PairEvents, got.ShortCallSeen, got.ShortCallAgo, got.ShortCallEmployees24h, w.pair, w.seen, w.ago, w.reached)
				}
			}
		})
	}

	t.Run("SOC verdicts count once per feedback id and a legit verdict allowlists until a fraud verdict", func(t *testing.T) {
		s := newStore(t)
		fs, ok := s.(FeedbackStore)
		if !ok {
			t.Fatalf("%T does not implement ApplyFeedback", s)
		}
		ctx := context.Background()
		type want struct {
			fraud, fp int64
			allowed   bool
		}
		steps := []struct {
			fb   []models.Feedback
			want want
		}{
			{nil, want{}},
			{[]models.Feedback{{ID: "f1", SenderHash: "S", Verdict: models.FeedbackFraud}}, want{fraud: 1}},
			{[]models.Feedback{{ID: "f1", SenderHash: "S", Verdict: models.FeedbackFraud}}, want{fraud: 1}},
			{[]models.Feedback{{ID: "l1", SenderHash: "S", Verdict: models.FeedbackLegit, AllowFor: h}}, want{fraud: 1, fp: 1, allowed: true}},
			{[]models.Feedback{{ID: "other", SenderHash: "T", Verdict: models.FeedbackFraud}}, want{fraud: 1, fp: 1, allowed: true}},
			{[]models.Feedback{{ID: "f2", SenderHash: "S", Verdict: models.FeedbackFraud}}, want{fraud: 2, fp: 1}},
		}
		for i, st := range steps {
			if err := fs.ApplyFeedback(ctx, st.fb); err != nil {
				t.Fatalf("step %d: ApplyFeedback: %v", i, err)
			}
			got := observe(t, s, batch(ev(fmt.Sprint("e", i), "S", "emp-1", "m", at(time.Duration(i)*m))))[0]
			if got.FraudReports != st.want.fraud || got.FalsePositives != st.want.fp || got.Allowlisted != st.want.allowed {
				t.Errorf("step %d: fraud %d, false positives %d, allowlisted %v; want %+v", i, got.FraudReports, got.FalsePositives, got.Allowlisted, st.want)
			}
		}
	})

	t.Run("texts of one campaign share its id and count distinct senders and employees within a day either side, an unrelated text does not", func(t *testing.T) {
		s := newStore(t)
		f := fingerprint(1000)
		variant := fingerprint(1000, 0, 5, 9, 15)        // 12 of 16 places agree
		far := fingerprint(1000, 0, 1, 2, 3, 4, 5, 6, 7) // 8 agree: another text
		other := fingerprint(50000)
		type want struct {
			campaign                   string
			senders, employees, events int64
			replayed                   bool
		}
		c1 := campaignID(f)
		steps := []struct {
			o    models.Observation
			want want
		}{
			{withText(ev("1", "S1", "emp-1", "m", at(0)), f), want{c1, 1, 1, 1, false}},
			{withText(ev("2", "S2", "emp-2", "m", at(m)), variant), want{c1, 2, 2, 2, false}},
			{withText(ev("3", "S3", "emp-3", "m", at(2*m)), other), want{campaignID(other), 1, 1, 1, false}},
			{withText(ev("4", "S4", "emp-4", "m", at(3*m)), far), want{campaignID(far), 1, 1, 1, false}},
			{withText(ev("5", "", "emp-5", "m", at(4*m)), f), want{c1, 2, 3, 3, false}},
			{withText(ev("2", "S2", "emp-2", "m", at(m)), variant), want{c1, 2, 2, 2, true}},
			{withText(ev("6", "S1", "emp-1", "m", at(5*m)), variant), want{c1, 2, 3, 4, false}},
			{withText(ev("7", "S1", "emp-6", "m", at(30*h)), f), want{c1, 1, 1, 1, false}},
			// Out of order: an earlier event counts what came after it too,
			// by each member's latest time: S2 and S9 (S1 was last seen at
			// 30h), employees 1, 2, 5 and 9, events 1, 2, 5, 6 and 8.
			{withText(ev("8", "S9", "emp-9", "m", at(-10*m)), variant), want{c1, 2, 4, 5, false}},
		}
		for i, st := range steps {
			got := observe(t, s, batch(st.o))[0]
			w := st.want
			if got.Campaign != w.campaign || got.CampaignSenders != w.senders || got.CampaignEmployees != w.employees ||
				got.CampaignEvents != w.events || got.Replayed != w.replayed {
				t.Errorf("step %d (%q): campaign %q senders %d employees %d events %d replayed %v; want %+v",
					i, st.o.EventID, got.Campaign, got.CampaignSenders, got.CampaignEmployees, got.CampaignEvents, got.Replayed, w)
			}
		}
		if in, ok := s.(Inspector); ok {
			keys, err := in.TTLs(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for k, ttl := range keys {
				if !strings.Contains(k, "{camp}") {
					continue
				}
				n++
				if ttl <= 0 || ttl > MaxTTL {
					t.Errorf("campaign key %q has TTL %v, want in (0, %v]", k, ttl, MaxTTL)
				}
			}
			if n == 0 {
				t.Errorf("no campaign keys among %v", keys)
			}
		}
	})

	t.Run("a text that matches two campaigns joins the one it agrees with most, in every store", func(t *testing.T) {
		// a and b agree in places 0–5 only: two campaigns that share the
		// first bands. c agrees with a in 0–9 (10 places) and with b in
		// 0–5 and 10–15 (12 places): b is the better match, whatever
		// order a store keeps the representatives of band 0 in.
		a := fingerprint(0x1000)
		b := fingerprint(0x1000, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
		c := fingerprint(0x1000, 10, 11, 12, 13, 14, 15)
		for i := 6; i < 10; i++ {
			c[i] = a[i]
		}
		for i := 10; i < 16; i++ {
			c[i] = b[i]
		}
		s := newStore(t)
		got := observe(t, s, batch(
			withText(ev("1", "S1", "emp-1", "m", at(0)), a),
			withText(ev("2", "S2", "emp-2", "m", at(m)), b),
		))
		if got[0].Campaign == got[1].Campaign {
			t.Fatalf("texts agreeing in 6 places share campaign %q", got[0].Campaign)
		}
		third := observe(t, s, batch(withText(ev("3", "S3", "emp-3", "m", at(2*m)), c)))
		if third[0].Campaign != got[1].Campaign {
			t.Errorf("the text joined %q, want %q (12 places agree) rather than %q (10)", third[0].Campaign, got[1].Campaign, got[0].Campaign)
		}
	})

	t.Run("a text without a fingerprint has no campaign", func(t *testing.T) {
		s := newStore(t)
		got := observe(t, s, batch(ev("1", "S", "emp-1", "m", at(0)), ev("2", "", "emp-1", "m", at(0))))
		for i, g := range got {
			if g.Campaign != "" || g.CampaignEvents != 0 {
				t.Errorf("snapshot %d: campaign %q with %d events, want none", i, g.Campaign, g.CampaignEvents)
			}
		}
	})
}
