package features

import (
	"path"
	"strings"

	"fraudwatch/models"
)

// sender fills the sender features. A known number lowers suspicion
// elsewhere; here it only switches off the imitation flags, which are
// about someone who is not who the name says.
func (x *Extractor) sender(ev *models.Event, s *Set, sc *scratch) {
	from := ev.From
	valid := false
	if from != "" {
		from, valid = x.numbers.Normalize(from)
	}
	s.HasSender = valid
	s.SenderInvalid = ev.Repairs.SenderInvalid || (ev.From != "" && !valid)
	s.SenderMissing = ev.From == "" && !s.SenderInvalid
	if valid {
		s.SenderCountry = x.numbers.Region(from)
		s.SenderForeign = s.SenderCountry != "" && s.SenderCountry != x.region
		s.SenderOfficial = x.official[from]
		s.SenderStaff = len(x.staffByNumber[from]) > 0
		s.SenderCustomer = x.customers[from]
		s.SenderKnown = s.SenderOfficial || s.SenderStaff || s.SenderCustomer
		if !s.SenderOfficial {
			x.lookalikeNumber(from, s)
		}
	}
	if ev.FromName != "" && !s.SenderOfficial {
		x.displayName(ev.FromName, from, s, sc)
	}
}

// lookalikeNumber compares the sender's digits with the official lines of
// seven digits or more (short lines would be "near" everything).
func (x *Extractor) lookalikeNumber(from string, s *Set) {
	digits := strings.TrimPrefix(from, "+")
	if len(digits) < 7 {
		return
	}
	best, bestLine := 3, ""
	for _, o := range x.officialDigits {
		if len(o) < 7 || o == digits {
			continue
		}
		if d := editDistance(digits, o, 2); d >= 1 && d < best {
			best, bestLine = d, o
		}
	}
	if bestLine != "" {
		s.LookalikeNumber = true
		s.LookalikeDistance = best
		s.evidence("lookalike_number", "+"+bestLine)
	}
}

// displayName sets NameImitatesBank and NameImitatesStaff. Staff numbers
// do not imitate the bank: an employee's display name often carries the
// bank's name.
func (x *Extractor) displayName(name, from string, s *Set, sc *scratch) {
	info := x.nameInfo(name, sc) // namecache.go
	if len(x.staffByNumber[from]) == 0 && info.claimsBank {
		s.NameImitatesBank = true
		s.evidence("name_imitates_bank", clip(name, 80))
	}
	if len(x.staff) == 0 {
		return
	}
	words := info.words
	mine := x.staffByNumber[from]
	// Candidates come from the rarest words first (info.rare).
	byRarity := info.rare
	var cands [8]int
	cand := cands[:0]
	for _, w := range byRarity {
		for _, id := range x.staffByToken[w] {
			if len(cand) < cap(cands) {
				cand = appendUnique(cand, id)
			}
		}
	}
	for _, id := range cand {
		if containsInt(mine, id) {
			continue
		}
		if nameMatches(x.staff[id].tokens, words) {
			s.NameImitatesStaff = true
			s.evidence("name_imitates_staff", clip(name, 80))
			return
		}
	}
}

// nameMatches reports whether every word of a staff name (two words at
// least, or one of five letters or more) is in the display name, allowing
// one typo in words of four letters or more.
func nameMatches(staff, display []string) bool {
	if len(staff) == 0 || len(staff) == 1 && len([]rune(staff[0])) < 5 {
		return false
	}
	for _, sw := range staff {
		found := false
		for _, dw := range display {
			if sw == dw || len([]rune(sw)) >= 4 && runeDistance(sw, dw, 1) <= 1 {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func runeDistance(a, b string, max int) int {
	ra, rb := []rune(a), []rune(b)
	// Map runes to bytes of a private alphabet so editDistance applies.
	if len(ra) > 64 || len(rb) > 64 {
		return max + 1
	}
	idx := map[rune]byte{}
	conv := func(rs []rune) string {
		out := make([]byte, len(rs))
		for i, r := range rs {
			v, ok := idx[r]
			if !ok {
				v = byte(len(idx))
				idx[r] = v
			}
			out[i] = v
		}
		return string(out)
	}
	return editDistance(conv(ra), conv(rb), max)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// clip cuts s to at most n runes, "…" included.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	out, cut := models.TruncateRunes(s, n)
	if cut {
		out, _ = models.TruncateRunes(s, n-1)
		out += "…"
	}
	return out
}

// executableExt are attachment types that install or run code.
var executableExt = map[string]bool{
	"apk": true, "xapk": true, "apks": true, "apkm": true, "aab": true, "exe": true, "msi": true,
	"msix": true, "bat": true, "cmd": true, "scr": true, "js": true, "jse": true, "vbs": true,
	"vbe": true, "wsf": true, "jar": true, "dmg": true, "pkg": true, "ps1": true, "hta": true,
	"lnk": true, "pif": true, "cpl": true, "reg": true, "ipa": true, "mobileconfig": true, "sh": true,
	"appx": true, "run": true, "deb": true, "rpm": true,
}

var executableMIME = []string{
	"application/vnd.android.package-archive", "application/x-msdownload", "application/x-msdos-program",
	"application/x-ms-installer", "application/x-msi", "application/x-ms-shortcut",
	"application/java-archive", "application/x-java-archive", "application/x-apple-diskimage",
	"application/x-sh", "application/x-executable", "application/x-dosexec", "application/vnd.microsoft.portable-executable",
	"application/x-apple-aspen-config", "application/hta", "application/x-bat",
}

// remoteAccessTools are names of remote-desktop apps scammers make
// victims install. Short names match whole words of the file name only.
var remoteAccessTools = []string{
	"anydesk", "teamviewer", "rustdesk", "ammyy", "aspia", "quicksupport", "supremo", "radmin",
	"ultraviewer", "litemanager", "remoteutilities", "airdroid", "splashtop", "getscreen",
}

var remoteAccessWords = map[string]bool{"rms": true, "rdp": true, "vnc": true}

func executable(m models.Media) bool {
	fn := strings.ToLower(strings.TrimSpace(m.Filename))
	if ext := strings.TrimPrefix(path.Ext(fn), "."); ext != "" && executableExt[ext] {
		return true
	}
	mime := strings.ToLower(strings.TrimSpace(m.MIME))
	for _, e := range executableMIME {
		if strings.HasPrefix(mime, e) {
			return true
		}
	}
	if fn == "" {
		return false
	}
	for _, t := range remoteAccessTools {
		if strings.Contains(fn, t) {
			return true
		}
	}
	for _, w := range strings.FieldsFunc(fn, func(r rune) bool { return !isLatin(r) && !(r >= '0' && r <= '9') }) {
		if remoteAccessWords[w] {
			return true
		}
	}
	return false
}

// event fills the event features.
func (x *Extractor) event(ev *models.Event, s *Set) {
	s.IsCall = ev.Kind == models.KindCall
	s.IsMessage = ev.Kind == models.KindMessage
	if ev.Call != nil && s.IsCall {
		s.CallMissed = ev.Call.Missed
		s.CallDuration = ev.Call.DurationS
	}
	s.Forwarded = ev.Forwarded
	s.Media = len(ev.Media)
	for _, m := range ev.Media {
		if executable(m) {
			s.MediaExecutable++
			if m.Filename != "" {
				s.evidence("media_executable", clip(m.Filename, 80))
			} else {
				s.evidence("media_executable", clip(m.MIME, 80))
			}
		}
	}
	s.InvalidUTF8 = ev.Repairs.InvalidUTF8
	s.TextTruncated = ev.Repairs.TextTruncated
}

// reputation copies the snapshot. It is zero without a sender.
func (x *Extractor) reputation(ev *models.Event, rep models.Snapshot, s *Set) {
	s.RepEvents = int(rep.Events)
	s.RepCalls = int(rep.Calls)
	s.RepMissedCalls = int(rep.MissedCalls)
	s.RepEmployees1h = int(rep.Employees1h)
	s.RepEmployees24h = int(rep.Employees24h)
	if !rep.FirstSeen.IsZero() && !ev.TS.IsZero() {
		if h := ev.TS.Sub(rep.FirstSeen).Hours(); h > 0 {
			s.RepAgeHours = h
		}
	}
	s.FirstSeen = rep.Events == 1 && s.HasSender
}
