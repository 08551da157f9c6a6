package features

import (
	"bytes"
	"slices"
	"unicode/utf8"

	"fraudwatch/models"
)

// minFingerprintWords is the fewest distinct word pairs a text needs for
// a campaign fingerprint. Below it, unrelated short messages ("добрый день,
// когда будет готово?") would share fingerprints and look like campaigns.
const minFingerprintWords = 6

// Fingerprint returns the campaign fingerprint of a message text: a MinHash
// signature (models.FingerprintLen places) over its distinct pairs of
// consecutive words after the same folding the lexicons see (case,
// homoglyphs, invisible characters), with every number read as "#" so
// that per-victim amounts,
// order numbers and phone numbers do not split a campaign, and every link
// read as "#link", since campaigns rotate domains. Texts with fewer than
// six distinct word pairs get nil: too short to tell a campaign from a
// common phrase.
func (x *Extractor) Fingerprint(text string) models.Fingerprint {
	if len(text) == 0 {
		return nil
	}
	sc := x.pool.Get().(*scratch)
	defer x.pool.Put(sc)
	pass1(&sc.low, text)
	_, _, _, sc.word = pass2(&sc.fold, &sc.low, nil, sc.word)
	return fingerprintOf(sc.fold.s)
}

// fingerprintOf is Fingerprint of a text whose pass1 and unblanked pass2
// gave fold. Analyze calls it on the normalisation it has done anyway.
func fingerprintOf(fold []byte) models.Fingerprint {
	// The shingles are pairs of consecutive words: pairs tell texts apart
	// far better than single words, whose minima a few common words
	// ("вы", "your", a number) would take for every text.
	var wordsArr [128]uint64
	words := wordsArr[:0]
	// The fields are those of bytes.Fields, without its slice of them.
	for i := 0; i < len(fold); {
		r, n := rune(fold[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(fold[i:])
		}
		if isSpaceFast(r) { // unicode.IsSpace, as bytes.Fields
			i += n
			continue
		}
		start := i
		for i < len(fold) {
			r, n := rune(fold[i]), 1
			if r >= utf8.RuneSelf {
				r, n = utf8.DecodeRune(fold[i:])
			}
			if isSpaceFast(r) {
				break
			}
			i += n
		}
		words = appendFieldWords(words, fold[start:i])
	}
	// MinHash over the distinct pairs: a repeated pair cannot lower a
	// minimum again, so only the count needs them distinct.
	var sig [models.FingerprintLen]uint32
	for i := range sig {
		sig[i] = ^uint32(0)
	}
	var distinct [minFingerprintWords]uint64
	nDistinct := 0
	for k := 1; k < len(words); k++ {
		h := mix64(words[k-1]*0x100000001b3 ^ words[k])
		if nDistinct < minFingerprintWords && !slices.Contains(distinct[:nDistinct], h) {
			distinct[nDistinct] = h
			nDistinct++
		}
		for j := range sig {
			if v := uint32(mix64(h + uint64(j)*0x9e3779b97f4a7c15)); v < sig[j] {
				sig[j] = v
			}
		}
	}
	if nDistinct < minFingerprintWords {
		return nil
	}
	return models.Fingerprint(sig[:])
}

// appendFieldWords appends the word hashes of one white-space separated
// field of the folded text: "#link" for a link, "#" for a number (once
// for a run of numbers: "15 000" is one), else each word of two or more
// runes.
func appendFieldWords(words []uint64, field []byte) []uint64 {
	if looksLikeLink(field) {
		// Campaigns rotate their domains and paths with their numbers.
		return append(words, linkHash)
	}
	for i := 0; i < len(field); {
		r, n := utf8.DecodeRune(field[i:])
		if !isWordRune(r) {
			i += n
			continue
		}
		start, digits, runes := i, true, 0
		for i < len(field) {
			r, n := utf8.DecodeRune(field[i:])
			if !isWordRune(r) {
				break
			}
			if r < '0' || r > '9' {
				digits = false
			}
			i += n
			runes++
		}
		switch w := field[start:i]; {
		case digits:
			if len(words) == 0 || words[len(words)-1] != numberHash {
				words = append(words, numberHash) // "15 000" is one number
			}
		case runes >= 2:
			words = append(words, wordHash(w))
		}
	}
	return words
}

// linkHash stands for any link.
var linkHash = wordHash([]byte("#link"))

// numberHash stands for any number.
var numberHash = wordHash([]byte("#"))

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

// looksLikeLink reports whether a whitespace-separated field of the folded
// text is a link: a scheme, "www." or a dot followed by a Latin top-level
// domain ("pay-now.top/x"). Amounts ("15.000") and sentence ends are not.
func looksLikeLink(f []byte) bool {
	if bytes.Contains(f, []byte("://")) || bytes.HasPrefix(f, []byte("www.")) {
		return true
	}
	for i := 1; i+2 < len(f); i++ {
		if f[i] != '.' || !isASCIIAlnum(f[i-1]) {
			continue
		}
		j := i + 1
		for j < len(f) && 'a' <= f[j] && f[j] <= 'z' {
			j++
		}
		if j-i-1 >= 2 && (j == len(f) || f[j] == '/' || f[j] == '.' || f[j] == ':' || f[j] == '?') {
			return true
		}
	}
	return false
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
}

// mix64 is the splitmix64 finaliser: the j-th MinHash function is
// mix64(h + j·φ), independent enough across j for a 16-place signature.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
