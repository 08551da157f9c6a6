package redisrep

import "time"

// SetTriageClock makes s trim by now instead of the wall clock, so that
// tests can reach the end of Retention without waiting for it.
func SetTriageClock(s *TriageStore, now func() time.Time) { s.now = now }
