package features

import "strings"

// Transliteration folding reads Latin words as Russian ("vy vyigrali" →
// "вы выиграли"). Plain English reads as Russian too, by accident: "bank"
// is "банк", "security" folds to some Russian stem, and an English
// message would collect Russian-lexicon hits and translit_hits. So a
// transliterated match only counts when at least one of the Latin words it
// needed does not look English (see looksEnglish): real transliterated
// Russian has words like "vash", "kod", "zablokirovana" that are not
// English words.

// commonEnglish is a small list of frequent English words, including
// those that happen to read as Russian words or stems through
// transliteration ("bank", "kit", "most", "on", "da"...).
var commonEnglish = func() map[string]bool {
	words := strings.Fields(`
a about above after again against all also am an and any are as at
back bad bank be because been before being below best between big both
but by call came can card case check city code come could cost da day
details did do does doing done down during each end even every few
fine first for form free from full further get give go going good got
great had has have he her here hers herself him himself his home how
i if in into is it its itself just keep kind know last let like link
little long look lost made make man many may me more most much must
my myself name need new next no nor not now number of off old on once
one only open or order other our ours ourselves out over own pay people
pin plan please post price put real same say see send set she should
show since so some still such sure take tell than that the their
theirs them themselves then there these they this those through time
to today too top under until up us use very want was way we well went
were what when where which while who whom why will with work would
yes yet you your yours yourself yourselves
account address amount balance bonus card cash club code contact cost
credit data date debit deposit details digit fee fund gift info
limit loan login mobile money online operator password payment phone
pin plan point prize promo rate sale service sim sms status support
team text top total transfer visa
sir mr mrs dear hi hello hey ok okay pls plz ur u r im
drop drops ready room agent agents case care life part smile stay tear
`)
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}()

// englishMarks are letter groups that English spelling uses and common
// romanisations of Russian do not.
var englishMarks = [...]string{"th", "wh", "ph", "ee", "oo", "ea", "ou", "ck", "tion", "ight", "ould", "w", "q", "x"}

// looksEnglish reports whether a lower-case Latin word is a common English
// word or is spelt the English way.
func looksEnglish(w string) bool {
	if commonEnglish[w] {
		return true
	}
	if strings.HasSuffix(w, "ing") || strings.HasSuffix(w, "ness") || strings.HasSuffix(w, "ly") && len(w) > 4 {
		return true
	}
	for _, m := range englishMarks {
		if strings.Contains(w, m) {
			return true
		}
	}
	return false
}
