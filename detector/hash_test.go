package detector

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
)

// Stored reputation is keyed by these hashes: the pooled HMACs must give
// exactly HMAC-SHA256(secret, number), cut to 16 bytes, from every
// goroutine, whatever was hashed before.
func TestSenderHashIsHMACSHA256OfTheNumber(t *testing.T) {
	secret := []byte("fixture-test-secret-0123")
	h, err := NewSenderHasher("v7", secret)
	if err != nil {
		t.Fatal(err)
	}
	want := func(n string) string {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(n))
		return "v7:" + hex.EncodeToString(m.Sum(nil)[:16])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				n := fmt.Sprintf("+7916%07d", g*1000+i)
				if got := h.Hash(n); got != want(n) {
					t.Errorf("Hash(%q) = %q, want %q", n, got, want(n))
					return
				}
			}
		}()
	}
	wg.Wait()
}
