package features

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Commercial mechanics that words alone describe badly: how a premium-rate
// service bills (a short code to text, a price per minute or message, a
// premium number), an imperative to call a number written in the text,
// and pay quoted per day or week, the hook of job offers that recruit
// couriers and money mules. They are patterns of the trade, not of one
// campaign's wording, and each is weak alone: rules combine them.

var (
	// "txt WIN to 80086", "reply STOP to 8007", "send YES to 61610".
	shortCodePattern = regexp.MustCompile(`(?:^|[^\p{L}\d])(?:txt|text|send|sms|reply|rply|msg)(?:[\s:]+[^\s]+){0,3}?[\s:]+(?:to|on)[\s:]+(?:no[:.]?\s*)?\d{4,6}(?:[^\d]|$)`)
	// "150p/msg", "£1.50/min", "10p per min", "GBP5/month", "cc100p/min",
	// "25 руб./мин": a price per use of a billed service, or a small
	// subscription per week or month ("150p/wk"; "$500 per week" is pay).
	unitPricePattern = regexp.MustCompile(`(?:(?:£|\$|€|gbp|usd|eur)\s?\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s?(?:p|pence|ppm|gbp|£|€|руб\p{L}*\.?|р\.?))\s?(?:/|per\s|a\s|за\s)\s?(?:min|minute|msg|message|txt|text|sms|call|мин\p{L}*|смс|сообщение)(?:[^\p{L}]|$)|(?:(?:£|\$|€|gbp|usd|eur)\s?\d(?:[.,]\d+)?|\d+\s?(?:p|pence))\s?(?:/|per\s|a\s)\s?(?:wk|week|month)(?:[^\p{L}]|$)`)
	// Premium-rate and revenue-share numbers: UK 09xx and 087x, US 1-900,
	// Russian 8-809.
	premiumNumberPattern = regexp.MustCompile(`(?:^|[^\d+])(?:09\d{8,9}|087\d{8}|1[\s-]?900[\s-]?\d{3}[\s-]?\d{4}|8[\s-]?809[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2})(?:[^\d]|$)`)
	// "call 09061209467 now", "Dial 7679046492", "звоните 8 999 ...":
	// an imperative to call a number given right there.
	callNumberPattern = regexp.MustCompile(`(?:^|[^\p{L}])(?:call|dial|ring|calls|звони\p{L}*|позвони\p{L}*|набери\p{L}*|наберите)(?:\s+[\p{L}:]+){0,2}?[\s:]+\+?\d[\d\s\-()]{3,16}\d`)
	// "@support_helper": a Telegram or Instagram handle, somewhere else to
	// continue (an e-mail address is not one).
	handlePattern = regexp.MustCompile(`(?:^|[^\p{L}\d._@-])@[a-z][a-z0-9_]{3,31}(?:[^a-z0-9_.@]|\.(?:\s|$)|$)`)
	// "зп от 30 000", "зарплата в день от 22 тысяч", "платим от 300",
	// "даю каждому от 5тыс": a wage promised to whoever answers.
	// The amount must read as a wage: "от"/"до"/"from"/"up to" before it, a
	// currency or a thousands suffix beside it, or at least 1000 - not "my
	// salary is 10 months of spending" or "earning 5 stars".
	wagePattern = regexp.MustCompile(`(?:^|[^\p{L}])(?:зп|з/п|зарплат\p{L}*|ставка|заработ\p{L}*|платим|заплатим|заплачу|выплат\p{L}*|даю каждому|доход\p{L}*|wage|salary|earn\p{L}*)(?:\s+[\p{L}.:-]+){0,3}?[\s:-]+(от\s+|до\s+|from\s+|up to\s+)?(£|\$|€)?(\d+(?:[.,\s]\d+)*)(?:(к|k)(?:[^\p{L}]|$)|\s?(тыс\p{L}*|тыщ\p{L}*|т\.р|руб\p{L}*|р\.|₽|\$|usd|долл\p{L}*|dollars?|pounds?|£|€|евро))?`)
	// "оплата от 15к", "оплата от 3000 руб": pay offered as a floor, the
	// number right after "от" (not "оплата от клиента 5000 пришла").
	payFromPattern = regexp.MustCompile(`(?:^|[^\p{L}])оплат[аы]\s+от\s+\d`)
	// "10 000 руб за день", "260 долларов в день", "9к на руки", "$500
	// per week", "от 9 000 за ночь": pay quoted per period. Not per month:
	// people quote their own salary, rent and subscriptions that way.
	payRatePattern = regexp.MustCompile(`(\d[\d\s.,]*\d|\d)\s?(к|k|тыс\p{L}*\.?|т\.?р\.?|000)?\s?((?:руб\p{L}*|р|₽|\$|usd|долл\p{L}*|бакс\p{L}*|евро|€|грн|гривен\p{L}*|usdt|dollars?|pounds?|£)\.?)?\s?(?:(?:/\s?|в\s|за\s|per\s|a\s|an\s|each\s|на\s|за\s+\d[\d-]*\s?)(?:день|дня|сутки|недел\p{L}*|час\p{L}*|смену|ночь|руки|заказ|выполнение|day|week|hour\p{L}*|shift|night|wk|job|task)|каждому)(?:[^\p{L}]|$)`)
)

// commercial sets the premium-rate, call-to-number, pay-rate, handle and
// styled-letter features from low, the lower-cased text before tokenizing.
func commercial(s *Set, low string) {
	s.StyledLetters, s.SpacedLetters = styledLetters(low)
	if strings.IndexByte(low, '@') >= 0 {
		if m := handlePattern.FindAllStringIndex(low, 8); len(m) > 0 {
			s.Handles = len(m)
			s.evidence("handles", strings.TrimSpace(oneLine(low[m[0][0]:m[0][1]], 40)))
		}
	}
	if !containsDigit(low) {
		return
	}
	n := 0
	for _, re := range []*regexp.Regexp{shortCodePattern, unitPricePattern, premiumNumberPattern} {
		if loc := findIndex(re, low); loc != nil { // findIndex: regexguard.go
			n++
			s.evidence("premium_rate", strings.TrimSpace(oneLine(low[loc[0]:loc[1]], 60)))
		}
	}
	s.PremiumRate = n
	if loc := findIndex(callNumberPattern, low); loc != nil {
		s.CallToNumber = true
		s.evidence("call_to_number", strings.TrimSpace(oneLine(low[loc[0]:loc[1]], 60)))
	}
	for _, m := range findAllSubmatchIndex(payRatePattern, low, 8) {
		v := amount(low[m[2]:m[3]]) // "4.47 per hour" is 4, not 447
		// A thousands suffix or a currency says money; a bare number
		// must be big enough not to be "2 раза в день" or "3 hours a day".
		if m[4] < 0 && m[6] < 0 && v < 300 {
			continue
		}
		s.PayRate++
		s.evidence("pay_rate", strings.TrimSpace(oneLine(low[m[0]:m[1]], 60)))
	}
	if s.PayRate == 0 { // the same pay counted once
		if loc := findIndex(payFromPattern, low); loc != nil {
			s.PayRate++
			s.evidence("pay_rate", strings.TrimSpace(oneLine(low[loc[0]:loc[1]], 60)))
			return
		}
		for _, m := range findAllSubmatchIndex(wagePattern, low, 8) {
			if m[2] < 0 && m[4] < 0 && m[8] < 0 && m[10] < 0 && amount(low[m[6]:m[7]]) < 1000 {
				continue
			}
			s.PayRate++
			s.evidence("pay_rate", strings.TrimSpace(oneLine(low[m[0]:m[1]], 60)))
			break
		}
	}
}

// decimals reports whether a number ends in a decimal part of one or two
// digits ("4.47", "9,5"), which a thousands separator never has.
func decimals(num string) bool {
	num = strings.TrimSpace(num)
	i := strings.LastIndexAny(num, ".,")
	return i >= 0 && len(num)-i-1 >= 1 && len(num)-i-1 <= 2 && containsDigit(num[i+1:]) && strings.Trim(num[i+1:], "0123456789") == ""
}

// amount reads a written number ("30 000", "1,500", "4.47") as a value,
// decimals dropped.
func amount(num string) float64 {
	num = strings.TrimRight(strings.TrimSpace(num), ".,")
	if decimals(num) {
		num = num[:strings.LastIndexAny(num, ".,")]
	}
	v, _ := strconv.ParseFloat(strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, num), 64)
	return v
}

func containsDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

// styledLetters counts letters taken from blocks that ordinary writing
// does not use for words — small capitals and phonetic letters
// (U+1D00–U+1DBF, U+0250–U+02AF), mathematical and fullwidth letters,
// enclosed and regional letters, Greek look-alikes inside Cyrillic or
// Latin words — and reports runs of six or more
// one-letter words of at least four different letters ("П я т н и ц а",
// "н'у'ж'н'о"; not "x x x x"). Both defeat word matching while a reader
// still reads the text.
func styledLetters(text string) (styled int, spaced bool) {
	var run []rune // the one-letter words in a row so far
	wordLen, sep := 0, 0
	var last rune
	greek, plain := 0, false // Greek letters and other letters in the current word
	for _, r := range text {
		switch {
		case r >= 0x1D00 && r <= 0x1DBF, r >= 0x0250 && r <= 0x02AF,
			r >= 0x1D400 && r <= 0x1D7FF, r >= 0xFF21 && r <= 0xFF5A,
			r >= 0x24B6 && r <= 0x24E9, r >= 0x1F130 && r <= 0x1F189, r >= 0x1F1E6 && r <= 0x1F1FF:
			styled++
		}
		if r >= 0x0370 && r <= 0x03FF {
			greek++ // a Greek look-alike ("ο", "ρ", "κ") inside a Cyrillic or Latin word
			continue
		}
		if isCyrillic(r) || isLatin(r) {
			plain = true
		} else {
			if plain && greek > 0 {
				styled += greek
			}
			greek, plain = 0, false
		}
		if isCyrillic(r) || isLatin(r) {
			if wordLen == 0 && sep > 3 {
				run = run[:0]
			}
			wordLen++
			sep = 0
			last = r
			continue
		}
		switch wordLen {
		case 0:
		case 1:
			run = append(run, last)
			if len(run) >= 6 && distinctRunes(run) >= 4 {
				spaced = true
			}
		default:
			run = run[:0]
		}
		wordLen = 0
		sep++
	}
	if plain && greek > 0 {
		styled += greek
	}
	return styled, spaced
}

func distinctRunes(rs []rune) int {
	n := 0
	for i, r := range rs {
		if !slices.Contains(rs[:i], r) {
			n++
		}
	}
	return n
}
