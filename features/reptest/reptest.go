// Package reptest is the conformance suite for reputation stores: every
// implementation of detector.Reputation (features/memrep,
// features/redisrep) runs Run from its tests, so they cannot drift apart.
package reptest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fraudwatch/models"
)

// Store is the method set of detector.Reputation, declared here so the
// suite does not depend on the detector package.
type Store interface {
	Observe(ctx context.Context, obs []models.Observation) ([]models.Snapshot, error)
}

// Inspector is optionally implemented by the Store that newStore returns
// (the store itself or a test wrapper). It lists the state the store
// holds for the current test, so the suite can check that every key
// expires and that key names hold nothing but sender hashes.
type Inspector interface {
	// TTLs returns every key the store holds for this test with its
	// remaining time to live; a key without expiry has a TTL <= 0.
	TTLs(ctx context.Context) (map[string]time.Duration, error)
}

// MaxTTL is the longest TTL the suite accepts on any key: newStore must
// configure no TTL above it (the defaults are below it).
const MaxTTL = 31 * 24 * time.Hour

// t0 is the event time the suite's scenarios start from.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// ev builds an observation; kind "m" is a message, "c" a call, "x" a missed call.
func ev(id, sender, employee, kind string, ts time.Time) models.Observation {
	o := models.Observation{EventID: id, SenderHash: sender, Employee: employee, Kind: models.KindMessage, TS: ts}
	switch kind {
	case "c":
		o.Kind, o.DurationS = models.KindCall, 42
	case "x":
		o.Kind, o.Missed = models.KindCall, true
	}
	return o
}

type step struct {
	batch []models.Observation
	want  []models.Snapshot
}

// snap builds a snapshot: events, calls, missed, first, last, employees 1h, 24h.
func snap(events, calls, missed int64, first, last time.Time, e1h, e24h int64) models.Snapshot {
	return models.Snapshot{Events: events, Calls: calls, MissedCalls: missed, FirstSeen: first, LastSeen: last, Employees1h: e1h, Employees24h: e24h}
}

func replayed(s models.Snapshot) models.Snapshot {
	s.Replayed = true
	return s
}

func batch(obs ...models.Observation) []models.Observation { return obs }
func wants(s ...models.Snapshot) []models.Snapshot         { return s }

// diff describes how got differs from want, or returns "".
func diff(got, want models.Snapshot) string {
	var d []string
	add := func(name string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w)) }
	if got.Events != want.Events {
		add("Events", got.Events, want.Events)
	}
	if got.Calls != want.Calls {
		add("Calls", got.Calls, want.Calls)
	}
	if got.MissedCalls != want.MissedCalls {
		add("MissedCalls", got.MissedCalls, want.MissedCalls)
	}
	if !got.FirstSeen.Equal(want.FirstSeen) {
		add("FirstSeen", got.FirstSeen, want.FirstSeen)
	}
	if !got.LastSeen.Equal(want.LastSeen) {
		add("LastSeen", got.LastSeen, want.LastSeen)
	}
	if got.Employees1h != want.Employees1h {
		add("Employees1h", got.Employees1h, want.Employees1h)
	}
	if got.Employees24h != want.Employees24h {
		add("Employees24h", got.Employees24h, want.Employees24h)
	}
	if got.Replayed != want.Replayed {
		add("Replayed", got.Replayed, want.Replayed)
	}
	if got.FirstSeen.Location() != time.UTC || got.LastSeen.Location() != time.UTC {
		d = append(d, "times are not in UTC")
	}
	return strings.Join(d, "; ")
}

func observe(t *testing.T, s Store, obs []models.Observation) []models.Snapshot {
	t.Helper()
	got, err := s.Observe(context.Background(), obs)
	if err != nil {
		t.Fatalf("Observe(%d observations): %v", len(obs), err)
	}
	if len(got) != len(obs) {
		t.Fatalf("Observe(%d observations) returned %d snapshots", len(obs), len(got))
	}
	return got
}

func check(t *testing.T, stepNo int, obs []models.Observation, got, want []models.Snapshot) {
	t.Helper()
	for i := range want {
		if d := diff(got[i], want[i]); d != "" {
			t.Errorf("step %d, observation %d (event %q): %s", stepNo, i, obs[i].EventID, d)
		}
	}
}

// Run runs the conformance suite. newStore is called once per subtest and
// must return an empty store (for a shared server: under a fresh key
// prefix) whose TTLs are at most MaxTTL; it registers its own cleanup
// with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	const h, m = time.Hour, time.Minute
	scenarios := []struct {
		name  string
		steps []step
	}{
		{
			name: "counters count events, calls and missed calls and track first and last seen",
			steps: []step{{
				batch: batch(
					ev("a", "S", "emp-1", "m", at(0)),
					ev("b", "S", "emp-1", "x", at(10*m)),
					ev("c", "S", "emp-2", "c", at(20*m)),
					ev("d", "S", "emp-2", "x", at(30*m)),
				),
				want: wants(
					snap(1, 0, 0, at(0), at(0), 1, 1),
					snap(2, 1, 1, at(0), at(10*m), 1, 1),
					snap(3, 2, 1, at(0), at(20*m), 2, 2),
					snap(4, 3, 2, at(0), at(30*m), 2, 2),
				),
			}},
		},
		{
			name: "distinct employees are counted separately over the last hour and the last 24 hours of event time",
			steps: []step{{
				batch: batch(
					ev("a", "S", "emp-1", "m", at(0)),
					ev("b", "S", "emp-2", "m", at(30*m)),
					ev("c", "S", "emp-3", "m", at(2*h)),        // emp-1, emp-2 left the hour
					ev("d", "S", "emp-1", "m", at(2*h+10*m)),   // emp-1 again: distinct, not a new one
					ev("e", "S", "emp-4", "m", at(25*h)),       // emp-1 at 0 and emp-2 left the day
					ev("f", "S", "emp-4", "m", at(25*h+30*m)),  // same employee twice
					ev("g", "S", "emp-5", "m", at(26*h+10*m)),  // emp-3, emp-1 (2h10m, exactly 24h old) out
					ev("h", "S", "emp-6", "m", at(27*h+10*m)),  // emp-5 exactly 1h old: out of the hour
					ev("i", "S", "emp-7", "m", at(100*h)),      // everything else is days old
					ev("j", "S", "emp-1", "m", at(100*h+59*m)), // emp-7 59m old: in the hour
				),
				want: wants(
					snap(1, 0, 0, at(0), at(0), 1, 1),
					snap(2, 0, 0, at(0), at(30*m), 2, 2),
					snap(3, 0, 0, at(0), at(2*h), 1, 3),
					snap(4, 0, 0, at(0), at(2*h+10*m), 2, 3),
					snap(5, 0, 0, at(0), at(25*h), 1, 3),
					snap(6, 0, 0, at(0), at(25*h+30*m), 1, 3),
					snap(7, 0, 0, at(0), at(26*h+10*m), 2, 2),
					snap(8, 0, 0, at(0), at(27*h+10*m), 1, 3),
					snap(9, 0, 0, at(0), at(100*h), 1, 1),
					snap(10, 0, 0, at(0), at(100*h+59*m), 2, 2),
				),
			}},
		},
		{
			name: "out-of-order events count in their own windows and move first seen back",
			steps: []step{{
				batch: batch(
					ev("a", "S", "emp-1", "m", at(2*h)),
					ev("b", "S", "emp-2", "m", at(0)),          // emp-1 is later: not in b's windows
					ev("c", "S", "emp-3", "m", at(h+30*m)),     // emp-2 at 0 is in c's day, not its hour
					ev("d", "S", "emp-1", "m", at(10*m)),       // late event of emp-1: emp-1 counts for it
					ev("e", "S", "emp-4", "m", at(2*h-25*h)),   // older than the day before the latest: still counted for itself
					ev("f", "S", "emp-5", "m", at(2*h+30*m)),   // the newest; emp-3 exactly 1h old: out of the hour
					ev("g", "S", "emp-2", "m", at(2*h+20*m)),   // out of order by 10m, inside the hour
					ev("h", "S", "emp-6", "m", at(2*h+20*m+1)), // +1ns: times have millisecond resolution, emp-2 is at ts
				),
				want: wants(
					snap(1, 0, 0, at(2*h), at(2*h), 1, 1),
					snap(2, 0, 0, at(0), at(2*h), 1, 1),
					snap(3, 0, 0, at(0), at(2*h), 1, 2),
					snap(4, 0, 0, at(0), at(2*h), 2, 2),
					snap(5, 0, 0, at(-23*h), at(2*h), 1, 1),
					snap(6, 0, 0, at(-23*h), at(2*h+30*m), 2, 4),
					snap(7, 0, 0, at(-23*h), at(2*h+30*m), 3, 3),
					snap(8, 0, 0, at(-23*h), at(2*h+30*m), 4, 4),
				),
			}},
		},
		{
			name: "a redelivered event returns its recorded snapshot and changes no counter",
			steps: []step{
				{
					batch: batch(ev("A", "S", "emp-1", "x", at(0)), ev("B", "S", "emp-2", "m", at(m))),
					want:  wants(snap(1, 1, 1, at(0), at(0), 1, 1), snap(2, 1, 1, at(0), at(m), 2, 2)),
				},
				{
					// Redelivered, here even with other content: the recorded
					// snapshot wins, so the verdict does not change.
					batch: batch(ev("A", "S", "emp-9", "m", at(5*h))),
					want:  wants(replayed(snap(1, 1, 1, at(0), at(0), 1, 1))),
				},
				{
					batch: batch(ev("C", "S", "emp-3", "m", at(2*m))),
					want:  wants(snap(3, 1, 1, at(0), at(2*m), 3, 3)),
				},
				{
					batch: batch(ev("B", "S", "emp-2", "m", at(m)), ev("C", "S", "emp-3", "m", at(2*m))),
					want:  wants(replayed(snap(2, 1, 1, at(0), at(m), 2, 2)), replayed(snap(3, 1, 1, at(0), at(2*m), 3, 3))),
				},
			},
		},
		{
			name: "an event twice in one batch is counted once and the second is a replay",
			steps: []step{{
				batch: batch(
					ev("A", "S", "emp-1", "m", at(0)),
					ev("A", "S", "emp-1", "m", at(0)),
					ev("B", "S", "emp-2", "c", at(m)),
					ev("A", "S", "emp-1", "m", at(0)),
				),
				want: wants(
					snap(1, 0, 0, at(0), at(0), 1, 1),
					replayed(snap(1, 0, 0, at(0), at(0), 1, 1)),
					snap(2, 1, 0, at(0), at(m), 2, 2),
					replayed(snap(1, 0, 0, at(0), at(0), 1, 1)),
				),
			}},
		},
		{
			name: "the same event id from two senders is two events",
			steps: []step{{
				batch: batch(ev("A", "S1", "emp-1", "m", at(0)), ev("A", "S2", "emp-1", "m", at(m))),
				want:  wants(snap(1, 0, 0, at(0), at(0), 1, 1), snap(1, 0, 0, at(m), at(m), 1, 1)),
			}},
		},
		{
			name: "an empty sender hash gets the zero snapshot and counts nothing",
			steps: []step{
				{
					batch: batch(
						ev("A", "", "emp-1", "x", at(0)),
						ev("B", "S", "emp-1", "m", at(m)),
						ev("C", "", "emp-2", "c", at(2*m)),
						ev("C", "", "emp-2", "c", at(2*m)),
					),
					want: wants(models.Snapshot{}, snap(1, 0, 0, at(m), at(m), 1, 1), models.Snapshot{}, models.Snapshot{}),
				},
				{
					batch: batch(ev("D", "S", "emp-2", "m", at(3*m))),
					want:  wants(snap(2, 0, 0, at(m), at(3*m), 2, 2)),
				},
			},
		},
		{
			name:  "an empty batch returns no snapshots",
			steps: []step{{batch: batch(), want: wants()}},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := newStore(t)
			for i, st := range sc.steps {
				got := observe(t, s, st.batch)
				check(t, i, st.batch, got, st.want)
			}
		})
	}

	t.Run("many senders in one batch are counted independently", func(t *testing.T) {
		s := newStore(t)
		const senders, rounds = 150, 4
		var obs []models.Observation
		var want []models.Snapshot
		for r := range rounds {
			for i := range senders {
				sender := "sender-" + strconv.Itoa(i)
				emp := "emp-" + strconv.Itoa((i+r)%7)
				kind := "m"
				if r%2 == 1 {
					kind = "x"
				}
				ts := at(time.Duration(r) * 15 * time.Minute)
				obs = append(obs, ev(fmt.Sprintf("e-%d-%d", i, r), sender, emp, kind, ts))
				n := int64(r + 1)
				want = append(want, snap(n, n/2, n/2, at(0), ts, n, n))
			}
		}
		got := observe(t, s, obs)
		check(t, 0, obs, got, want)
	})

	runCrossEvent(t, newStore)

	t.Run("concurrent batches of one sender count every event once", func(t *testing.T) {
		s := newStore(t)
		const workers, perWorker = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					o := ev(fmt.Sprintf("w%d-%d", w, i), "S", fmt.Sprintf("emp-%d", w), "m", at(time.Duration(i)*time.Second))
					if _, err := s.Observe(context.Background(), []models.Observation{o}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		obs := batch(ev("last", "S", "emp-0", "x", at(time.Minute)))
		got := observe(t, s, obs)
		check(t, 0, obs, got, wants(snap(workers*perWorker+1, 1, 1, at(0), at(time.Minute), workers, workers)))
	})

	t.Run("a cancelled context is an error and counts nothing", func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Observe(ctx, batch(ev("A", "S", "emp-1", "m", at(0))))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Observe with a cancelled context: err = %v, want context.Canceled", err)
		}
		obs := batch(ev("B", "S", "emp-2", "m", at(m)))
		check(t, 1, obs, observe(t, s, obs), wants(snap(1, 0, 0, at(m), at(m), 1, 1)))
	})

	t.Run("every key expires and key names hold only the sender hash", func(t *testing.T) {
		s := newStore(t)
		in, ok := s.(Inspector)
		if !ok {
			t.Skip("the store does not implement reptest.Inspector")
		}
		ctx := context.Background()
		keys, err := in.TTLs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 0 {
			t.Fatalf("a new store holds %d keys, want 0: %v", len(keys), keys)
		}
		observe(t, s, batch(ev("no-sender-event", "", "emp-nobody", "m", at(0))))
		if keys, err = in.TTLs(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("after an event without sender: %d keys (err %v), want 0: %v", len(keys), err, keys)
		}
		senders := []string{"3f2a9c0d", "b71e44aa"}
		obs := batch(
			ev("wamid.HBgLNzkx", senders[0], "emp-1042", "m", at(0)),
			ev("call.7f31", senders[0], "emp-1043", "x", at(m)),
			ev("wamid.HBgLNzkx", senders[1], "emp-1042", "m", at(2*m)),
		)
		observe(t, s, obs)
		keys, err = in.TTLs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Per sender: counters, employee window, pair hash; per (sender,
		// event): one record. No short call: no short-call window.
		if want := 2*3 + 3; len(keys) != want {
			t.Errorf("%d keys, want %d: %v", len(keys), want, keys)
		}
		for k, ttl := range keys {
			if ttl <= 0 || ttl > MaxTTL {
				t.Errorf("key %q has TTL %v, want in (0, %v]", k, ttl, MaxTTL)
			}
			if !strings.Contains(k, "{"+senders[0]+"}") && !strings.Contains(k, "{"+senders[1]+"}") {
				t.Errorf("key %q does not carry a sender hash as its hash tag", k)
			}
			for _, raw := range []string{"wamid", "HBgLNzkx", "call.7f31", "emp-"} {
				if strings.Contains(k, raw) {
					t.Errorf("key %q contains %q: only the sender hash may appear in key names", k, raw)
				}
			}
		}
	})
}

// Bench measures Observe on batches of 500 observations from 100 senders
// to 50 employees, fresh event ids each iteration. Callers give it a
// store that may already hold state; it reports observations per second.
func Bench(b *testing.B, s Store) {
	const size, senders, employees = 500, 100, 50
	ctx := context.Background()
	obs := make([]models.Observation, size)
	for i := range obs {
		obs[i] = models.Observation{
			SenderHash: fmt.Sprintf("%064x", i%senders),
			Employee:   "emp-" + strconv.Itoa(i%employees),
			Kind:       models.KindMessage,
		}
	}
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		b.StopTimer()
		for i := range obs {
			obs[i].EventID = "bench-" + strconv.Itoa(n) + "-" + strconv.Itoa(i)
			obs[i].TS = t0.Add(time.Duration(n)*time.Second + time.Duration(i)*time.Millisecond)
		}
		b.StartTimer()
		if _, err := s.Observe(ctx, obs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "obs/s")
}
