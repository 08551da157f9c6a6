package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fraudwatch/models"
)

// The webhook payload of the WhatsApp Business Platform (Cloud API), as
// far as fraudwatch reads it. Meta's reference ("Webhooks → messages",
// "Calling API → calls") has more fields; unknown ones are ignored, so a
// new field never breaks ingestion.
type payload struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"` // the WhatsApp Business Account id
	Changes []change `json:"changes"`
}

type change struct {
	Field string `json:"field"` // "messages", "calls", …
	Value value  `json:"value"`
}

type value struct {
	MessagingProduct string    `json:"messaging_product"`
	Metadata         metadata  `json:"metadata"`
	Contacts         []contact `json:"contacts"`
	Messages         []message `json:"messages"`
	Calls            []call    `json:"calls"`
	// Statuses (sent/delivered/read of the business's own messages) are
	// not read: they are not inbound traffic.
}

type metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type contact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

type media struct {
	ID       string `json:"id"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	MIMEType string `json:"mime_type"`
}

type message struct {
	raw json.RawMessage // the message object as sent, for a stable id when "id" is missing

	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Context   *struct {
		Forwarded           bool `json:"forwarded"`
		FrequentlyForwarded bool `json:"frequently_forwarded"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *media `json:"image"`
	Video    *media `json:"video"`
	Audio    *media `json:"audio"`
	Document *media `json:"document"`
	Sticker  *media `json:"sticker"`
	Button   *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"list_reply"`
		NFMReply *struct {
			Body string `json:"body"`
		} `json:"nfm_reply"`
	} `json:"interactive"`
	Location *struct {
		Name    string `json:"name"`
		Address string `json:"address"`
		URL     string `json:"url"`
	} `json:"location"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
		} `json:"phones"`
		URLs []struct {
			URL string `json:"url"`
		} `json:"urls"`
	} `json:"contacts"`
	Reaction *struct {
		Emoji string `json:"emoji"`
	} `json:"reaction"`
	Referral *struct {
		SourceURL string `json:"source_url"`
		Headline  string `json:"headline"`
		Body      string `json:"body"`
	} `json:"referral"`
}

// UnmarshalJSON keeps the raw bytes next to the decoded fields.
func (m *message) UnmarshalJSON(b []byte) error {
	type plain message
	var p plain
	err := json.Unmarshal(b, &p) // a type error still fills the other fields
	*m = message(p)
	m.raw = append(json.RawMessage(nil), b...)
	return err
}

type call struct {
	ID        string          `json:"id"`
	From      string          `json:"from"`
	To        string          `json:"to"`
	Event     string          `json:"event"`     // connect, terminate
	Direction string          `json:"direction"` // USER_INITIATED, BUSINESS_INITIATED
	Timestamp string          `json:"timestamp"`
	Status    json.RawMessage `json:"status"` // "COMPLETED"/"FAILED"…, a string or a list of them
	StartTime string          `json:"start_time"`
	Duration  float64         `json:"duration"` // seconds
}

// objectWhatsApp is the only payload object this endpoint reads.
const objectWhatsApp = "whatsapp_business_account"

// Unmapped is the prefix of the employee id given to an event whose
// business number is not in the employee map: "unmapped:" plus the
// phone_number_id (or the display number when the id is absent). The
// event is still scored and alerted on, so nothing is dropped; the SOC
// sees which number needs a mapping.
const Unmapped = "unmapped:"

// conversion is what one payload turned into.
type conversion struct {
	events   []models.Event
	ignored  int      // messages and calls not turned into events (statuses are not counted)
	unmapped []string // business numbers without an employee, once each
}

// convert turns every inbound message and every ended user-initiated call
// of p into an event in fraudwatch's inbound format. employee maps a
// business number to an employee id ("" when unknown); now is the receipt
// time, used when a message carries no readable timestamp.
func convert(p payload, employee func(phoneNumberID, displayNumber string) string, now time.Time) conversion {
	var out conversion
	seen := map[string]bool{}
	for _, e := range p.Entry {
		for _, ch := range e.Changes {
			v := ch.Value
			to := employee(v.Metadata.PhoneNumberID, v.Metadata.DisplayPhoneNumber)
			if to == "" {
				num := v.Metadata.PhoneNumberID
				if num == "" {
					num = v.Metadata.DisplayPhoneNumber
				}
				to = Unmapped + num
				if !seen[to] {
					seen[to] = true
					out.unmapped = append(out.unmapped, to)
				}
			}
			names := map[string]string{}
			for _, c := range v.Contacts {
				names[digits(c.WaID)] = c.Profile.Name
			}
			for _, m := range v.Messages {
				out.events = append(out.events, messageEvent(m, to, names, now))
			}
			for _, c := range v.Calls {
				if ev, ok := callEvent(c, to, names, now); ok {
					out.events = append(out.events, ev)
				} else {
					out.ignored++
				}
			}
		}
	}
	return out
}

func messageEvent(m message, to string, names map[string]string, now time.Time) models.Event {
	ev := models.Event{
		ID:       m.ID,
		Kind:     models.KindMessage,
		TS:       unixTime(m.Timestamp, now),
		From:     e164(m.From),
		FromName: names[digits(m.From)],
		To:       to,
	}
	if ev.ID == "" {
		// Meta always sends an id; should one be missing, a hash of the
		// message keeps redeliveries of the webhook deduplicated.
		sum := sha256.Sum256(m.raw)
		ev.ID = "wa-noid:" + hex.EncodeToString(sum[:12])
	}
	if m.Context != nil {
		ev.Forwarded = m.Context.Forwarded || m.Context.FrequentlyForwarded
	}
	var text []string
	add := func(s ...string) {
		for _, x := range s {
			if x = strings.TrimSpace(x); x != "" {
				text = append(text, x)
			}
		}
	}
	if m.Text != nil {
		add(m.Text.Body)
	}
	for _, md := range []struct {
		kind string
		m    *media
	}{{"image", m.Image}, {"video", m.Video}, {"audio", m.Audio}, {"document", m.Document}, {"sticker", m.Sticker}} {
		if md.m == nil {
			continue
		}
		ev.Media = append(ev.Media, models.Media{Type: md.kind, Filename: md.m.Filename, MIME: md.m.MIMEType})
		add(md.m.Caption)
	}
	if m.Button != nil {
		add(m.Button.Text)
	}
	if in := m.Interactive; in != nil {
		if in.ButtonReply != nil {
			add(in.ButtonReply.Title)
		}
		if in.ListReply != nil {
			add(in.ListReply.Title, in.ListReply.Description)
		}
		if in.NFMReply != nil {
			add(in.NFMReply.Body)
		}
	}
	if l := m.Location; l != nil {
		add(l.Name, l.Address, l.URL)
	}
	for _, c := range m.Contacts {
		// A shared contact card ("Bank security", +7…) is a classic
		// hand-over to a fake callback number: its name and numbers are
		// scored as text.
		add(c.Name.FormattedName)
		for _, p := range c.Phones {
			add(p.Phone)
		}
		for _, u := range c.URLs {
			add(u.URL)
		}
	}
	if m.Reaction != nil {
		add(m.Reaction.Emoji)
	}
	if r := m.Referral; r != nil {
		add(r.Headline, r.Body, r.SourceURL)
	}
	ev.Text = strings.Join(text, "\n")
	return ev
}

// callEvent turns the terminate webhook of a call a user placed to the
// business number into a call event; the connect webhook of the same call
// (same id) and business-initiated calls are not inbound traffic to judge.
// A call that did not complete, or lasted no time, is missed.
func callEvent(c call, to string, names map[string]string, now time.Time) (models.Event, bool) {
	if !strings.EqualFold(c.Event, "terminate") || c.ID == "" {
		return models.Event{}, false
	}
	if c.Direction != "" && !strings.EqualFold(c.Direction, "USER_INITIATED") {
		return models.Event{}, false
	}
	completed := false
	var one string
	var many []string
	if json.Unmarshal(c.Status, &one) == nil {
		many = []string{one}
	} else {
		_ = json.Unmarshal(c.Status, &many)
	}
	for _, s := range many {
		if strings.EqualFold(s, "COMPLETED") {
			completed = true
		}
	}
	dur := max(c.Duration, 0)
	return models.Event{
		ID:       c.ID,
		Kind:     models.KindCall,
		TS:       unixTime(c.Timestamp, now),
		From:     e164(c.From),
		FromName: names[digits(c.From)],
		To:       to,
		Call:     &models.Call{DurationS: dur, Missed: !completed || dur == 0},
	}, true
}

// unixTime reads Meta's timestamps (decimal Unix seconds as a string);
// anything else falls back to the receipt time rather than losing the event.
func unixTime(s string, now time.Time) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > 253402300799 { // 9999-12-31T23:59:59Z
		return now.UTC()
	}
	return time.Unix(n, 0).UTC()
}

// e164 turns a WhatsApp id (digits, country code first) into "+digits".
// Anything else is passed through for the detector's own normalisation
// to judge; an empty sender stays empty (unknown sender).
func e164(waID string) string {
	s := strings.TrimSpace(waID)
	if s == "" || strings.HasPrefix(s, "+") {
		return s
	}
	if d := digits(s); d == s {
		return "+" + d
	}
	return s
}

// digits keeps the ASCII digits of s: business and user numbers are
// compared this way, whatever their punctuation.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// parse decodes a webhook body. A body that is not JSON is an error. A
// field of an unexpected type is reported in typeErr but the rest of the
// payload is kept: a change on Meta's side must not drop the messages
// that still decode. ok is false for an object of another product.
func parse(body []byte) (p payload, ok bool, typeErr, err error) {
	if err := json.Unmarshal(body, &p); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return payload{}, false, nil, fmt.Errorf("decoding webhook payload: %w", err)
		}
		typeErr = err
	}
	return p, p.Object == objectWhatsApp, typeErr, nil
}
