package features

import (
	"unicode/utf8"

	"fraudwatch/models"
)

// minFingerprintWords is the fewest distinct words a text needs for a
// campaign fingerprint. Below it, unrelated short messages ("добрый день,
// когда будет готово?") would share fingerprints and look like campaigns.
const minFingerprintWords = 6

// Fingerprint returns the campaign fingerprint of a message text: a MinHash
// signature (models.FingerprintLen places) over its distinct words after
// the same folding the lexicons see (case, homoglyphs, invisible
// characters), with every number read as "#" so that per-victim amounts,
// order numbers and phone numbers do not split a campaign. Texts with fewer
// than six distinct words get nil: too short to tell a campaign from a
// common phrase.
func (x *Extractor) Fingerprint(text string) models.Fingerprint {
	if len(text) == 0 {
		return nil
	}
	sc := x.pool.Get().(*scratch)
	defer x.pool.Put(sc)
	pass1(&sc.low, text)
	_, _, _, sc.word = pass2(&sc.fold, &sc.low, nil, sc.word)
	var sig [models.FingerprintLen]uint32
	for i := range sig {
		sig[i] = ^uint32(0)
	}
	seen := make(map[uint64]struct{}, 32)
	s := sc.fold.s
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		if !isWordRune(r) {
			i += n
			continue
		}
		start, digits := i, true
		for i < len(s) {
			r, n := utf8.DecodeRune(s[i:])
			if !isWordRune(r) {
				break
			}
			if r < '0' || r > '9' {
				digits = false
			}
			i += n
		}
		w := s[start:i]
		if digits {
			w = []byte("#")
		} else if utf8.RuneCount(w) < 2 {
			continue
		}
		h := wordHash(w)
		if _, dup := seen[h]; dup {
			continue
		}
		seen[h] = struct{}{}
		for j := range sig {
			if v := uint32(mix64(h + uint64(j)*0x9e3779b97f4a7c15)); v < sig[j] {
				sig[j] = v
			}
		}
	}
	if len(seen) < minFingerprintWords {
		return nil
	}
	return models.Fingerprint(sig[:])
}

// wordHash is a fixed 64-bit FNV-1a: unlike a seeded hash, it
// gives the same fingerprint in every process.
func wordHash(w []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range w {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finaliser: the j-th MinHash function is
// mix64(h + j·φ), independent enough across j for a 16-place signature.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
