package features

import (
	"path"
	"strings"
	"time"

	"fraudwatch/models"
)

// callThenMessageWindow is how long after a missed or short call a message
// to the same employee counts as its follow-up. Scammers ring first so the
// message looks expected ("I just called you, this is the bank").
const callThenMessageWindow = 2 * time.Hour

// crossEvent fills the features that come from other events: first
// contact, call patterns, SOC feedback and campaigns.
func (x *Extractor) crossEvent(ev *models.Event, rep models.Snapshot, s *Set) {
	s.ShortCallAgoMin = -1
	s.CampaignSenders = int(rep.CampaignSenders)
	s.CampaignEmployees = int(rep.CampaignEmployees)
	s.CampaignEvents = int(rep.CampaignEvents)
	x.mediaForms(ev, s)
	if !s.HasSender {
		return
	}
	s.RepPairEvents = int(rep.PairEvents)
	s.FirstContact = rep.PairEvents == 1
	if rep.ShortCallSeen {
		s.ShortCallAgoMin = rep.ShortCallAgo.Minutes()
		s.CallThenMessage = s.IsMessage && rep.ShortCallAgo <= callThenMessageWindow
	}
	s.RepShortCallEmployees = int(rep.ShortCallEmployees24h)
	s.RepFraudReports = int(rep.FraudReports)
	s.RepFalsePositives = int(rep.FalsePositives)
	s.Allowlisted = rep.Allowlisted
}

// documentExt are attachment types that can pose as a bank form; htmlExt
// are pages that open a form in the browser, offline, where no link
// filter sees them.
var (
	documentExt = map[string]bool{
		"pdf": true, "doc": true, "docx": true, "docm": true, "rtf": true, "odt": true, "xls": true,
		"xlsx": true, "xlsm": true, "zip": true, "rar": true, "7z": true, "jpg": true, "png": true,
	}
	htmlExt = map[string]bool{"html": true, "htm": true, "shtml": true, "xhtml": true, "svg": true, "mht": true}
)

// formWords are pieces of file names that claim to be a bank's paperwork
// or security procedure, in Latin and Cyrillic.
var formWords = []string{
	"bank", "банк", "security", "безопасн", "заявлен", "анкет", "бланк", "форма", "form",
	"verif", "верифик", "подтвержд", "confirm", "account", "счет", "счёт", "card",
	"refund", "возврат", "компенсац", "compensation", "выписк", "statement",
	"цб", "centralbank", "cbr", "protocol", "протокол", "постановлен", "повестк",
	"уведомлен", "notice", "страхов", "insurance", "декларац", "спецсчет", "safe",
}

// mediaForms counts documents posing as bank forms: an HTML page, or a
// document or archive whose name claims bank paperwork or a security
// procedure (or names the bank).
func (x *Extractor) mediaForms(ev *models.Event, s *Set) {
	for _, m := range ev.Media {
		fn := strings.ToLower(strings.TrimSpace(m.Filename))
		ext := strings.TrimPrefix(path.Ext(fn), ".")
		mime := strings.ToLower(m.MIME)
		form := htmlExt[ext] || strings.HasPrefix(mime, "text/html") || strings.HasPrefix(mime, "image/svg")
		if !form && (documentExt[ext] || m.Type == "document") {
			stem := strings.TrimSuffix(fn, path.Ext(fn))
			for _, w := range formWords {
				if strings.Contains(stem, w) {
					form = true
					break
				}
			}
			for _, b := range x.brands {
				if !form && len(b) >= 4 && strings.Contains(stem, b) {
					form = true
				}
			}
		}
		if form {
			s.MediaBankForm++
			s.evidence("media_bank_form", clip(m.Filename, 80))
		}
	}
}
