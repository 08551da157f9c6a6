package kafkaio

import (
	"strconv"
	"sync"

	"fraudwatch/detector"
	"fraudwatch/models"
)

// writtenSetSize is how many acknowledged outputs a Consumer remembers:
// far more than the records it can have fetched but not committed when a
// commit is lost (a few batches), at a few megabytes.
const writtenSetSize = 1 << 16

// writtenSet remembers the keys of the last outputs the brokers
// acknowledged (alert ids, dead letters' source positions), oldest
// forgotten first. Records redelivered to the same process — a commit lost
// while a broker restarts, a rebalance after a slow batch — are scored
// again but their outputs are not written twice. Only a process that dies
// between writing and committing repeats them (with the same alert ids).
type writtenSet struct {
	mu   sync.Mutex
	keys map[string]struct{}
	ring []string
	next int
}

func newWrittenSet(n int) *writtenSet {
	return &writtenSet{keys: make(map[string]struct{}, n), ring: make([]string, n)}
}

// unwritten returns the items whose key is not in the set.
func unwritten[T any](s *writtenSet, items []T, key func(T) string) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []T
	for _, it := range items {
		if _, ok := s.keys[key(it)]; !ok {
			out = append(out, it)
		}
	}
	return out
}

// add remembers the keys of items, forgetting the oldest beyond capacity.
func add[T any](s *writtenSet, items []T, key func(T) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range items {
		k := key(it)
		if _, ok := s.keys[k]; ok {
			continue
		}
		if old := s.ring[s.next]; old != "" {
			delete(s.keys, old)
		}
		s.ring[s.next] = k
		s.keys[k] = struct{}{}
		s.next = (s.next + 1) % len(s.ring)
	}
}

func alertKey(a models.Alert) string { return "alert/" + a.ID }

func deadLetterKey(dl detector.DeadLetter) string {
	r := dl.Record
	return "dlq/" + r.Topic + "/" + strconv.Itoa(r.Partition) + "/" + strconv.FormatInt(r.Offset, 10)
}
