package features

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
)

// A sender shows the same display name on every message, and reading it
// (normalising, tokenizing, matching the lexicon, folding the words of a
// person's name) cost as much as a twentieth of Extract. nameCache keeps
// what a name alone determines, bounded like the stem cache.

// nameInfo is what displayName needs to know about a display name that
// does not depend on the sender's number.
type nameInfo struct {
	claimsBank bool     // the lexicon finds the bank, its security service, the central bank, police or a name claim in it
	words      []string // nameTokens(name)
	rare       []string // words, rarest among the staff's names first (stable)
}

type nameCache struct {
	seed     maphash.Seed
	perShard int
	shards   [nameShards]nameShard
}

const (
	nameShards = 16
	// nameCacheSize bounds the names kept; a shard that fills up is
	// emptied, as the stem cache does.
	nameCacheSize = 1 << 16
	// maxCachedName is the longest name kept (bytes): longer ones are
	// rare and read each time.
	maxCachedName = 256
)

type nameShard struct {
	mu sync.RWMutex
	m  map[string]*nameInfo
}

func newNameCache() *nameCache {
	c := &nameCache{seed: maphash.MakeSeed(), perShard: nameCacheSize / nameShards}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*nameInfo)
	}
	return c
}

// nameInfo returns the cached reading of a display name, reading it on a
// miss (always, without a cache). The result is shared: callers must not
// modify it.
func (x *Extractor) nameInfo(name string, sc *scratch) *nameInfo {
	if x.names == nil || len(name) > maxCachedName {
		return x.readName(name, sc)
	}
	c := x.names
	sh := &c.shards[maphash.String(c.seed, name)%nameShards]
	sh.mu.RLock()
	info, ok := sh.m[name]
	sh.mu.RUnlock()
	if ok {
		return info
	}
	info = x.readName(name, sc)
	sh.mu.Lock()
	if len(sh.m) >= c.perShard {
		clear(sh.m)
	}
	sh.m[strings.Clone(name)] = info
	sh.mu.Unlock()
	return info
}

// readName reads a display name: the uncached nameInfo.
func (x *Extractor) readName(name string, sc *scratch) *nameInfo {
	info := &nameInfo{}
	toks := x.textTokens(name, sc)
	var h lexHits
	sc.seen = x.lex.match(toks, &h, sc.seen)
	info.claimsBank = h.counts[cueBank]+h.counts[cueSecurity]+h.counts[cueCentralBank]+h.counts[cuePolice]+h.counts[cueNameClaims] > 0
	info.words = x.nameTokens(name, sc)
	// Candidates come from the rarest words first: "Иван" may name more
	// staff than there is room for, "Сидоров" picks the one imitated.
	info.rare = slices.Clone(info.words)
	slices.SortStableFunc(info.rare, func(a, b string) int {
		return len(x.staffByToken[a]) - len(x.staffByToken[b])
	})
	return info
}
