package redisrep_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"fraudwatch/detector/triage"
	"fraudwatch/detector/triage/storetest"
	"fraudwatch/features/redisrep"
	"fraudwatch/models"
)

// newTriage returns a TriageStore under a prefix of its own on client,
// with the script loaded, and deletes the prefix's keys at the end (the
// servers are shared: never FLUSH).
func newTriage(t *testing.T, client redis.UniversalClient, cfg redisrep.TriageConfig) (*redisrep.TriageStore, string) {
	t.Helper()
	cfg.Prefix = "fwtest-" + randHex(6)
	s, err := redisrep.NewTriage(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.LoadScript(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		keys, _ := triageKeys(ctx, client, cfg.Prefix)
		for _, k := range keys {
			client.Del(ctx, k)
		}
	})
	return s, cfg.Prefix
}

// triageKeys lists the keys under prefix, on every master of a cluster.
func triageKeys(ctx context.Context, client redis.UniversalClient, prefix string) ([]string, error) {
	if cc, ok := client.(*redis.ClusterClient); ok {
		var mu sync.Mutex // ForEachMaster runs the nodes in parallel
		var keys []string
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			ks, err := scan(ctx, node, prefix)
			mu.Lock()
			keys = append(keys, ks...)
			mu.Unlock()
			return err
		})
		return keys, err
	}
	return scan(ctx, client.(*redis.Client), prefix)
}

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr(t)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func miniClient(t *testing.T) *redis.Client {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestTriageConformance(t *testing.T) {
	t.Run("on redis-server", func(t *testing.T) {
		client := redisClient(t)
		storetest.Run(t, func(t *testing.T) triage.Store {
			s, _ := newTriage(t, client, redisrep.TriageConfig{})
			return s
		})
	})
	t.Run("on a redis cluster", func(t *testing.T) {
		client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs(t)})
		t.Cleanup(func() { _ = client.Close() })
		storetest.Run(t, func(t *testing.T) triage.Store {
			s, _ := newTriage(t, client, redisrep.TriageConfig{})
			return s
		})
	})
	// The demo runs triage on miniredis: the script must run there too.
	// Expiry by wall clock is not claimed there.
	t.Run("on miniredis", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) triage.Store {
			s, _ := newTriage(t, miniClient(t), redisrep.TriageConfig{})
			return s
		})
	})
}

var tt0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// fullChange writes every kind of record triage keeps.
func fullChange(id string) triage.Change {
	return triage.Change{
		Incidents: []triage.IncidentWrite{{Incident: models.Incident{ID: id, Status: models.StatusOpen, LastSeen: tt0, Version: 1}}},
		Alert: &models.StoredAlert{
			Alert:      models.Alert{ID: "al-" + id, EventTime: tt0},
			IncidentID: id,
		},
		Groups: map[string]string{"sender:" + id: id},
		Silences: []models.Silence{{ID: "sil-" + id, Matchers: []models.Matcher{{Name: models.MatchSenderHash, Value: "h"}},
			StartsAt: tt0, EndsAt: tt0.Add(time.Hour)}},
		Counters: []triage.CounterAdd{{Key: "rules:2026-11-26", Field: "r1", By: 1}},
		Audit:    []models.AuditEntry{{At: tt0, Actor: "ann", Action: "incident.open", Target: id}},
	}
}

func TestTriageKeysExpireWithinRetention(t *testing.T) {
	ctx := context.Background()
	client := redisClient(t)
	const retention = 2 * time.Hour
	s, prefix := newTriage(t, client, redisrep.TriageConfig{Retention: retention})
	for _, id := range []string{"i1", "i2"} {
		if err := s.Commit(ctx, fullChange(id)); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := scan(ctx, client, prefix)
	if err != nil {
		t.Fatal(err)
	}
	// index, w, silences, audit, 2 incidents, 2 alerts, 2 alert lists,
	// 2 group pointers, 1 counter hash.
	if len(keys) != 13 {
		t.Errorf("%d keys under the prefix, want 13: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix+":{triage}:") {
			t.Errorf("key %q is outside the {triage} hash tag", k)
		}
		ttl, err := client.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > retention {
			t.Errorf("key %q has TTL %v, want within (0, %v]", k, ttl, retention)
		}
	}
}

func TestTriageKeepsASilenceLongerThanRetentionUntilItEnds(t *testing.T) {
	ctx := context.Background()
	client := redisClient(t)
	const retention = 2 * time.Hour
	s, prefix := newTriage(t, client, redisrep.TriageConfig{Retention: retention})
	long := models.Silence{ID: "sil-long", Matchers: []models.Matcher{{Name: models.MatchEmployee, Value: "emp-1"}},
		StartsAt: time.Now(), EndsAt: time.Now().Add(10 * retention)}
	if err := s.Commit(ctx, triage.Change{Silences: []models.Silence{long}}); err != nil {
		t.Fatal(err)
	}
	ttl, err := client.PTTL(ctx, prefix+":{triage}:silences").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl < 10*retention {
		t.Fatalf("the silences hash expires in %v, before the silence ends (%v)", ttl, 10*retention)
	}
	// Commits after Retention (by the store's clock) do not trim it.
	redisrep.SetTriageClock(s, func() time.Time { return time.Now().Add(3 * retention) })
	if err := s.Commit(ctx, fullChange("later")); err != nil {
		t.Fatal(err)
	}
	sils, err := s.Silences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(sils, func(x models.Silence) bool { return x.ID == long.ID }) {
		t.Fatal("an active silence was trimmed as if it had outlived Retention")
	}
}

// TestTriageTrimsWhatOutlivedRetention moves the store's clock past
// Retention: the index, silences, alert lists and audit log drop what was
// last written before it, although their keys live on (they were
// refreshed by the later commit).
func TestTriageTrimsWhatOutlivedRetention(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(t *testing.T) *redis.Client
	}{
		{"on redis-server", redisClient},
		{"on miniredis", miniClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			const retention = time.Hour
			s, _ := newTriage(t, tc.client(t), redisrep.TriageConfig{Retention: retention})
			wall := time.Now()
			redisrep.SetTriageClock(s, func() time.Time { return wall })
			old := fullChange("old")
			if err := s.Commit(ctx, old); err != nil {
				t.Fatal(err)
			}
			wall = wall.Add(retention + time.Minute)
			fresh := fullChange("fresh")
			fresh.Incidents[0].Incident.LastSeen = tt0.Add(-24 * time.Hour) // a replayed event: older than "old"
			fresh.Alert.IncidentID = "old"                                  // joins the old incident's list
			fresh.Audit[0].At = tt0.Add(retention + time.Minute)
			if err := s.Commit(ctx, fresh); err != nil {
				t.Fatal(err)
			}
			incs, err := s.Incidents(ctx, time.Time{}, time.Time{})
			if err != nil || len(incs) != 1 || incs[0].ID != "fresh" {
				t.Errorf("Incidents = %v, %v; want only fresh", incs, err)
			}
			as, err := s.IncidentAlerts(ctx, "old")
			if err != nil || len(as) != 1 || as[0].Alert.ID != "al-fresh" {
				t.Errorf("IncidentAlerts(old) = %v, %v; want only al-fresh", as, err)
			}
			sls, err := s.Silences(ctx)
			if err != nil || len(sls) != 1 || sls[0].ID != "sil-fresh" {
				t.Errorf("Silences = %v, %v; want only sil-fresh", sls, err)
			}
			es, err := s.Audit(ctx, time.Time{}, 0)
			if err != nil || len(es) != 1 || es[0].Target != "fresh" {
				t.Errorf("Audit = %v, %v; want only fresh's entry", es, err)
			}
		})
	}
}

func TestTriageRecoversFromLostScript(t *testing.T) {
	ctx := context.Background()
	client := redisClient(t)
	s, _ := newTriage(t, client, redisrep.TriageConfig{})
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, fullChange("i")); err != nil {
		t.Fatalf("Commit after SCRIPT FLUSH: %v", err)
	}
	if _, err := s.Incident(ctx, "i"); err != nil {
		t.Fatalf("the commit after the reload was not written: %v", err)
	}
	// The rerun is the only run: a second commit of the alert is a duplicate.
	if err := s.Commit(ctx, fullChange("i")); !errors.Is(err, triage.ErrDuplicateAlert) {
		t.Errorf("second commit: %v, want ErrDuplicateAlert", err)
	}
}

func TestTriageRejectsMalformedChanges(t *testing.T) {
	ctx := context.Background()
	s, _ := newTriage(t, miniClient(t), redisrep.TriageConfig{})
	inc := func(id string, v, prev int64) triage.IncidentWrite {
		return triage.IncidentWrite{Incident: models.Incident{ID: id, Version: v}, PrevVersion: prev}
	}
	for _, tc := range []struct {
		name   string
		change triage.Change
		want   string
	}{
		{"an incident without an id", triage.Change{Incidents: []triage.IncidentWrite{inc("", 1, 0)}}, "needs an id"},
		{"an incident written twice", triage.Change{Incidents: []triage.IncidentWrite{inc("a", 1, 0), inc("a", 2, 1)}}, "written twice"},
		{"a version that skips one", triage.Change{Incidents: []triage.IncidentWrite{inc("a", 3, 1)}}, "does not follow"},
		{"a version that repeats the previous one", triage.Change{Incidents: []triage.IncidentWrite{inc("a", 1, 1)}}, "does not follow"},
		{"an alert without an incident", triage.Change{Alert: &models.StoredAlert{Alert: models.Alert{ID: "x"}}}, "incident id"},
		{"a silence without an id", triage.Change{Silences: []models.Silence{{}}}, "silence needs an id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Commit(ctx, tc.change)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Commit error = %v, want one saying %q", err, tc.want)
			}
			if errors.Is(err, triage.ErrConflict) || errors.Is(err, triage.ErrDuplicateAlert) {
				t.Errorf("a malformed change is neither a conflict nor a duplicate: %v", err)
			}
		})
	}
}

func TestTriageConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  redisrep.TriageConfig
		want string // "" for valid
	}{
		{"the zero config takes the defaults", redisrep.TriageConfig{}, ""},
		{"an hour's retention is enough", redisrep.TriageConfig{Retention: time.Hour}, ""},
		{"a year's retention is the most", redisrep.TriageConfig{Retention: 365 * 24 * time.Hour}, ""},
		{"less than an hour is too short", redisrep.TriageConfig{Retention: 59 * time.Minute}, "Retention"},
		{"two years is too long", redisrep.TriageConfig{Retention: 2 * 365 * 24 * time.Hour}, "Retention"},
		{"a negative retention is invalid", redisrep.TriageConfig{Retention: -time.Hour}, "Retention"},
		{"a brace in the prefix would move the hash tag", redisrep.TriageConfig{Prefix: "a{b"}, "hash tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
			client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
			defer client.Close()
			_, nerr := redisrep.NewTriage(client, tc.cfg)
			if (nerr == nil) != (err == nil) {
				t.Errorf("NewTriage error %v disagrees with Validate %v", nerr, err)
			}
		})
	}
}

func TestDialTriage(t *testing.T) {
	ctx := context.Background()
	prefix := "fwtest-" + randHex(6)
	s, err := redisrep.DialTriage(ctx, redisrep.Options{Addrs: []string{redisAddr(t)}}, redisrep.TriageConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	client := redisClient(t)
	t.Cleanup(func() {
		keys, _ := scan(ctx, client, prefix)
		for _, k := range keys {
			client.Del(ctx, k)
		}
	})
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, fullChange("i")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded: Close did not close the dialled client")
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := redisrep.DialTriage(dctx, redisrep.Options{Addrs: []string{"127.0.0.1:1"}}, redisrep.TriageConfig{}); err == nil {
		t.Error("DialTriage to a closed port succeeded")
	}
}
