package detector

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"sync"
)

// SenderHasher derives the keyed hash that stands for a phone number in
// Redis keys and alerts. The key version is part of the hash ("v1:…"), so
// a rotated key starts new reputation keys instead of colliding with old
// ones.
type SenderHasher struct {
	version string
	key     []byte
	macs    sync.Pool // hash.Hash: HMACs of key, reset after each use
}

var keyVersionPattern = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

// MinHMACSecretBytes is the shortest secret NewSenderHasher accepts.
const MinHMACSecretBytes = 16

// NewSenderHasher returns a hasher for the secret and its version label.
func NewSenderHasher(version string, secret []byte) (*SenderHasher, error) {
	if !keyVersionPattern.MatchString(version) {
		return nil, fmt.Errorf("hmac key version %q: want 1–16 lower-case letters or digits, e.g. v1", version)
	}
	if len(secret) < MinHMACSecretBytes {
		return nil, errors.New("hmac secret: missing or shorter than 16 bytes; set FRAUDWATCH_HMAC_SECRET to a long random value")
	}
	return &SenderHasher{version: version, key: append([]byte(nil), secret...)}, nil
}

// Hash returns "<version>:<32 hex digits>" for an E.164 number, or "" for
// an empty number.
func (h *SenderHasher) Hash(e164 string) string {
	if e164 == "" {
		return ""
	}
	m, _ := h.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, h.key)
	}
	m.Write([]byte(e164))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	m.Reset()
	h.macs.Put(m)
	out := make([]byte, len(h.version)+1+hex.EncodedLen(16))
	copy(out, h.version)
	out[len(h.version)] = ':'
	hex.Encode(out[len(h.version)+1:], sum[:16])
	return string(out)
}
