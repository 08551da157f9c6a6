package detector

import (
	"runtime"
	"sync"
	"time"

	"fraudwatch/models"
)

// minParallelEvents is the smallest batch scored on several cores: below
// it, starting goroutines costs more than it saves.
const minParallelEvents = 64

// decodeAll decodes every record, on several goroutines for a large
// batch as scoreAll scores; evs[i] and errs[i] are recs[i]'s.
func (e *Engine) decodeAll(recs []Record) (evs []models.Event, errs []error) {
	evs, errs = make([]models.Event, len(recs)), make([]error, len(recs))
	inParallel(len(recs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			evs[i], errs[i] = e.decodeRecord(recs[i])
		}
	})
	return evs, errs
}

// inParallel calls do on contiguous chunks covering [0, n): on up to
// GOMAXPROCS goroutines when n is at least minParallelEvents, else once.
// It returns when every call has.
func inParallel(n int, do func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/(minParallelEvents/2))
	if workers <= 1 || n < minParallelEvents {
		do(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(lo, min(lo+chunk, n))
		}()
	}
	wg.Wait()
}

// scoreAll fills out[i] with the score of events[i]. Events are
// independent once their snapshots are known, so a large batch is split
// into contiguous chunks scored on up to GOMAXPROCS goroutines; the
// result is the same as scoring them one by one, in order.
// pre, when not nil, holds the events' analyses (analyze.go).
func (e *Engine) scoreAll(out []Scored, events []models.Event, snaps []models.Snapshot, hashes []string, pre []analyzed, cur *Scoring, now time.Time) {
	inParallel(len(events), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var p *analyzed
			if pre != nil {
				p = &pre[i]
			}
			e.scoreOne(&out[i], &events[i], snaps[i], hashes[i], p, cur, now)
		}
	})
}
