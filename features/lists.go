package features

import "strings"

// domainLists are the built-in domain tables. They are read-only after
// construction.
type domainLists struct {
	tlds       map[string]bool
	wellKnownD []string
	shortenerD []string
	linkOnly   []string // hosts that are links even with an odd TLD, but neither well known nor shorteners
}

// wellKnownDomains are large, legitimate sites a scam rarely links to
// directly (it links to lookalikes). t.me and wa.me are deliberately not
// here: chat invitations are how spam moves people off WhatsApp.
var wellKnownDomains = []string{
	"google.com", "google.ru", "youtube.com", "youtu.be", "wikipedia.org", "gosuslugi.ru", "gov.ru",
	"nalog.gov.ru", "mos.ru", "cbr.ru", "yandex.ru", "ya.ru", "yandex.com", "mail.ru", "vk.com", "ok.ru",
	"ozon.ru", "wildberries.ru", "wb.ru", "avito.ru", "pochta.ru", "cdek.ru", "2gis.ru", "apple.com",
	"icloud.com", "microsoft.com", "live.com", "office.com", "whatsapp.com", "github.com", "rbc.ru",
	"ria.ru", "tass.ru", "kinopoisk.ru", "hh.ru", "sberbank.ru", "sber.ru", "vtb.ru", "tbank.ru",
	"tinkoff.ru", "alfabank.ru", "gazprombank.ru", "raiffeisen.ru", "facebook.com", "instagram.com",
	"linkedin.com", "twitter.com", "x.com", "zoom.us", "amazon.com", "paypal.com", "booking.com",
	"aeroflot.ru", "rzd.ru", "dns-shop.ru", "mvideo.ru", "lamoda.ru", "kaspi.kz",
}

// shortenerDomains hide where a link goes.
var shortenerDomains = []string{
	"bit.ly", "bitly.com", "clck.ru", "tinyurl.com", "goo.su", "goo.gl", "cutt.ly", "t.co", "is.gd",
	"v.gd", "ow.ly", "rb.gy", "shorturl.at", "tiny.cc", "qps.ru", "u.to", "vk.cc", "rebrand.ly", "s.id",
	"tiny.one", "buff.ly", "lnkd.in", "t.ly", "bit.do", "surl.li", "inlnk.ru", "cli.co", "shorturl.asia",
	"tinyurl.ru", "ya.cc", "to.click", "short.gy", "l.linklyhq.com", "bl.ink", "did.li", "clc.li",
	"gg.gg", "urlz.fr", "shrtco.de", "soo.gd", "trib.al", "x.gd", "kurl.ru",
}

var linkOnlyDomains = []string{"t.me", "wa.me", "telegram.me", "vk.me", "ok.me", "api.whatsapp.com"}

// knownTLDs are the top-level domains that make a bare "word.tld" a link.
// Two-letter codes that are also common words or abbreviations ("in",
// "is", "it", "to", "no", "me", "so", "us", "at", "be", "by", "am", "do",
// "go", "my", "as", "an", "on", "or", "st") are left out: such links are
// caught when they have a scheme, "www." or a path.
const knownTLDs = "com net org ru su рф рус info biz io co cc tv ws pw top xyz online site shop store club " +
	"live app dev pro link click icu buzz fun space website tech cloud vip win bid loan work today world " +
	"life best cyou sbs cfd bond monster rest quest mobi name asia digital page email support services " +
	"center help finance money cash credit bank fund gift games bet casino trade market exchange " +
	"ua kz uz ge az kg tj tm md lt lv ee cz sk eu pl de fr es nl uk ch se fi dk ie pt gr hu ro bg rs hr " +
	"si ca au nz br mx ar cl cn jp kr hk sg ae tr il ly gl gd gg tk ml ga cf gq su ai sh ac cx nu one " +
	"network systems solutions global group agency company ltd inc ink wtf lol run ooo"

func newDomainLists() domainLists {
	l := domainLists{tlds: make(map[string]bool), wellKnownD: wellKnownDomains, shortenerD: shortenerDomains, linkOnly: linkOnlyDomains}
	for _, t := range strings.Fields(knownTLDs) {
		l.tlds[t] = true
	}
	return l
}

func matchesAny(host string, ds []string) bool {
	for _, d := range ds {
		if hostMatches(host, d) {
			return true
		}
	}
	return false
}

// wellKnown reports hosts of the well-known list, their subdomains, and
// the national sites of the global ".com" brands on it: amazon.com also
// covers amazon.co.uk and www.amazon.de. Only established country suffixes
// count (countrySuffixes), not the free or reassigned ones scammers
// register for lookalikes (.tk, .ml, .ws...).
func (l *domainLists) wellKnown(host string) bool {
	if matchesAny(host, l.wellKnownD) {
		return true
	}
	suffix, label := countrySite(host)
	if suffix == "" {
		return false
	}
	for _, d := range l.wellKnownD {
		if strings.HasSuffix(d, ".com") && strings.TrimSuffix(d, ".com") == label {
			return true
		}
	}
	return false
}

// countrySite splits "www.amazon.co.uk" into its country suffix "co.uk"
// and the label before it, "amazon"; it returns "" when the host does not
// end in one of countrySuffixes.
func countrySite(host string) (suffix, label string) {
	labels := strings.Split(host, ".")
	n := len(labels)
	if n >= 3 && countrySuffixes[labels[n-2]+"."+labels[n-1]] {
		return labels[n-2] + "." + labels[n-1], labels[n-3]
	}
	if n >= 2 && countrySuffixes[labels[n-1]] {
		return labels[n-1], labels[n-2]
	}
	return "", ""
}

// countrySuffixes are the national domains where global brands run their
// local sites.
var countrySuffixes = func() map[string]bool {
	m := make(map[string]bool)
	for _, s := range strings.Fields("uk co.uk de fr es it nl be at ch se no dk fi ie pt pl cz gr hu ro " +
		"ru kz by ua ca com.au au co.nz nz co.jp jp co.in in com.br com.mx mx com.tr com.sg sg ae co.il co.kr cn com.cn") {
		m[s] = true
	}
	return m
}()

func (l *domainLists) shortener(host string) bool { return matchesAny(host, l.shortenerD) }

// known reports hosts that are links whatever their top-level domain.
func (l *domainLists) known(host string) bool {
	return l.shortener(host) || l.wellKnown(host) || matchesAny(host, l.linkOnly)
}
