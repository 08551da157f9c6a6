package features

import (
	"strings"
	"testing"
)

// registrableBySplit is registrable as first written, kept as the
// reference the allocation-free version must agree with.
func registrableBySplit(host string) string {
	labels := strings.Split(host, ".")
	n := len(labels)
	if n < 2 {
		return host
	}
	if n >= 3 && secondLevel[labels[n-2]+"."+labels[n-1]] {
		return labels[n-3]
	}
	return labels[n-2]
}

func TestRegistrableAgreesWithSplittingOnLabels(t *testing.T) {
	hosts := []string{"", ".", "..", "ru", "sberbank.ru", "online.sberbank.ru", "x.example.co.uk", "example.co.uk", "co.uk",
		".co.uk", "a..co.uk", "a.b.c.d.com.ru", "sberbank.", ".sberbank", "a.b", "xn--80ak6aa92e.com", "msk.su", "a.msk.su"}
	hosts = append(hosts, wellKnownDomains...)
	for _, h := range hosts {
		if got, want := registrable(h), registrableBySplit(h); got != want {
			t.Errorf("registrable(%q) = %q, want %q", h, got, want)
		}
	}
}
