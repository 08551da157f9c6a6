// Package triagetest gives the tests of triage and of its API the same
// real store, a settable clock and a recording feedback sink. It is for
// tests only.
package triagetest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"fraudwatch/detector/triage"
	"fraudwatch/features/redisrep"
	"fraudwatch/models"
)

// Store dials the redis-server at FW_TEST_REDIS_ADDR with keys under a
// prefix of the test's own, and closes it when the test ends. Without the
// variable the test skips, or fails under CI.
func Store(tb testing.TB, name string) *redisrep.TriageStore {
	tb.Helper()
	addr := os.Getenv("FW_TEST_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("FW_TEST_REDIS_ADDR is not set: run the suite through scripts/test")
		}
		tb.Skip("FW_TEST_REDIS_ADDR is not set: run the suite through scripts/test")
	}
	prefix := fmt.Sprintf("fwtest-%s-%d", name, time.Now().UnixNano())
	store, err := redisrep.DialTriage(context.Background(), redisrep.Options{Addrs: []string{addr}}, redisrep.TriageConfig{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	return store
}

// Clock is a settable wall clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// FeedbackLog records what triage writes to the feedback topic; SetFail
// makes writes fail, as a topic that is down would.
type FeedbackLog struct {
	mu   sync.Mutex
	recs []models.FeedbackRecord
	fail error
}

var _ triage.FeedbackSink = (*FeedbackLog)(nil)

// WriteFeedback records recs, or returns the error SetFail set.
func (f *FeedbackLog) WriteFeedback(_ context.Context, recs []models.FeedbackRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.recs = append(f.recs, recs...)
	return nil
}

// SetFail makes the following writes fail with err (nil: succeed).
func (f *FeedbackLog) SetFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// Records returns the records written so far.
func (f *FeedbackLog) Records() []models.FeedbackRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.recs)
}
