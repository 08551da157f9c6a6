package features

// Set is everything the rules can see about one event: the named features
// that rule conditions refer to (by their expr tag), plus evidence
// excerpts keyed by the same names. It is computed by Extractor.Extract
// from the event, the sender directory and the sender's reputation
// snapshot, with no I/O.
//
// Counts are ints, flags are bools. A rule naming a feature that is not a
// field here fails validation when the rule file is loaded.
type Set struct {
	// Text.
	Lang   string `expr:"lang"`   // "ru", "en", "mixed" or "" (no letters)
	Tokens int    `expr:"tokens"` // word tokens after normalisation

	// Lexicon hits per cue (distinct phrases matched), ru and en, after
	// case, ё, homoglyph, invisible-character and transliteration folding.
	LexLottery         int `expr:"lex_lottery"`          // you won, prize, draw, winner
	LexPrizeFee        int `expr:"lex_prize_fee"`        // pay a fee / tax / delivery to receive the prize
	LexPurchase        int `expr:"lex_purchase"`         // order, purchase, payment confirmation, refund
	LexDelivery        int `expr:"lex_delivery"`         // parcel, courier, delivery, customs
	LexCredential      int `expr:"lex_credential"`       // SMS code, PIN, CVV, password, one-time code
	LexCardRequest     int `expr:"lex_card_request"`     // card number, expiry date, "the three digits on the back"
	LexRemoteAccess    int `expr:"lex_remote_access"`    // AnyDesk, TeamViewer, RustDesk, "install the app"
	LexBank            int `expr:"lex_bank"`             // "this is your bank", bank employee, our bank's name
	LexSecurityService int `expr:"lex_security_service"` // security service, fraud department
	LexCentralBank     int `expr:"lex_central_bank"`     // Central Bank, ЦБ, Bank of Russia
	LexPolice          int `expr:"lex_police"`           // police, investigator, FSB, prosecutor
	LexManager         int `expr:"lex_manager"`          // "it's your manager / director", new number
	LexSafeAccount     int `expr:"lex_safe_account"`     // safe / reserve account, move your savings
	LexTransfer        int `expr:"lex_transfer"`         // transfer money, send, top up, pay now
	LexInvestment      int `expr:"lex_investment"`       // crypto, forex, guaranteed income, passive income
	LexMule            int `expr:"lex_mule"`             // work that moves money: rent your card/account, drops, receive and forward transfers
	LexJobOffer        int `expr:"lex_job_offer"`        // recruiting and easy-money pitches: remote work, daily pay, no experience, write in DM
	LexSpam            int `expr:"lex_spam"`             // advertising: discount, promo, subscribe, sale
	LexUrgency         int `expr:"lex_urgency"`          // urgent, immediately, within an hour, blocked
	LexSecrecy         int `expr:"lex_secrecy"`          // don't tell anyone, keep secret, don't call the bank
	LexWarning         int `expr:"lex_warning"`          // "never tell anyone your code", "we never ask": the bank's own warnings
	LexVictimReport    int `expr:"lex_victim_report"`    // "someone called me pretending to be…": a customer reporting fraud
	LexContactDM       int `expr:"lex_contact_dm"`       // "write me in DM", "details in private", "leave a plus": moving a pitch to a private channel

	// Links, numbers, money, cards in the text.
	URLs            int     `expr:"urls"`             // links found (with or without scheme)
	UnknownDomains  int     `expr:"unknown_domains"`  // link domains neither official nor well known
	OfficialLinks   int     `expr:"official_links"`   // link domains on the official list
	Shorteners      int     `expr:"shorteners"`       // bit.ly, clck.ru, ...
	LookalikeDomain int     `expr:"lookalike_domain"` // link domains imitating an official domain
	IPLinks         int     `expr:"ip_links"`         // links to a bare IP address
	PunycodeLinks   int     `expr:"punycode_links"`   // xn-- domains
	PhonesInText    int     `expr:"phones_in_text"`   // phone numbers written in the text
	MoneyAmounts    int     `expr:"money_amounts"`    // amounts with a currency
	MaxAmount       float64 `expr:"max_amount"`       // largest amount, in its own currency units
	Cards           int     `expr:"cards"`            // Luhn-valid card numbers
	Accounts        int     `expr:"accounts"`         // bank account numbers (20-digit Russian accounts, IBANs)

	// Obfuscation.
	HomoglyphWords int `expr:"homoglyph_words"` // words mixing Latin and Cyrillic look-alikes
	InvisibleChars int `expr:"invisible_chars"` // zero-width and direction-control characters removed
	TranslitHits   int `expr:"translit_hits"`   // lexicon hits found only through transliteration folding

	// Commercial mechanics (commercial.go): how premium-rate services bill
	// and how recruiting pitches quote pay. Weak alone; rules combine them.
	PremiumRate   int  `expr:"premium_rate"`   // distinct premium-rate marks: a short code to text, a price per minute/message/week, a premium number
	CallToNumber  bool `expr:"call_to_number"` // an imperative to call or dial a number written in the text
	PayRate       int  `expr:"pay_rate"`       // pay quoted per period: "10 000 руб за день", "9к на руки", "$500 per week"
	StyledLetters int  `expr:"styled_letters"` // letters from small-capital, phonetic, mathematical, fullwidth or enclosed blocks ("ᴩᴀбᴏᴛᴀ")
	SpacedLetters bool `expr:"spaced_letters"` // five or more letters spaced out one by one ("П я т н и ц а")
	Handles       int  `expr:"handles"`        // messenger handles to write to ("@support_helper"), not e-mail addresses

	// Text model (features/textmodel): the probability, 0 to 1, that the
	// text is spam or scam by its words alone. 0 without text or with the
	// model off. Calibrated on its training data, not on yours: weigh it
	// with other evidence, never alone.
	ModelScore float64 `expr:"model_score"`

	// Sender.
	HasSender         bool   `expr:"has_sender"`          // a valid number was given
	SenderMissing     bool   `expr:"sender_missing"`      // no number at all
	SenderInvalid     bool   `expr:"sender_invalid"`      // a number was given but is not valid
	SenderCountry     string `expr:"sender_country"`      // ISO region of the number ("RU"), "" if unknown
	SenderForeign     bool   `expr:"sender_foreign"`      // region differs from the configured default
	SenderOfficial    bool   `expr:"sender_official"`     // one of the bank's official lines
	SenderStaff       bool   `expr:"sender_staff"`        // a staff member's registered number
	SenderCustomer    bool   `expr:"sender_customer"`     // a known, consented customer
	SenderKnown       bool   `expr:"sender_known"`        // official, staff or customer
	NameImitatesBank  bool   `expr:"name_imitates_bank"`  // display name claims the bank / its security service, number not official
	NameImitatesStaff bool   `expr:"name_imitates_staff"` // display name is a staff member's, number is not theirs
	LookalikeNumber   bool   `expr:"lookalike_number"`    // within two digits of an official line, but not it
	LookalikeDistance int    `expr:"lookalike_distance"`  // that edit distance (0 when not a lookalike)

	// Event.
	IsCall          bool    `expr:"is_call"`
	IsMessage       bool    `expr:"is_message"`
	CallMissed      bool    `expr:"call_missed"`
	CallDuration    float64 `expr:"call_duration"` // seconds
	Forwarded       bool    `expr:"forwarded"`
	Media           int     `expr:"media"`            // attachments
	MediaExecutable int     `expr:"media_executable"` // APK, EXE, scripts, remote-access installers
	MediaBankForm   int     `expr:"media_bank_form"`  // documents posing as bank forms (statement, application, security form) and HTML pages
	InvalidUTF8     bool    `expr:"invalid_utf8"`     // repaired: broken UTF-8 in the record
	TextTruncated   bool    `expr:"text_truncated"`   // repaired: text over 65,536 characters

	// Reputation (from the snapshot; zero without a sender).
	RepEvents       int     `expr:"rep_events"` // events from this sender, this one included
	RepCalls        int     `expr:"rep_calls"`
	RepMissedCalls  int     `expr:"rep_missed_calls"`
	RepEmployees1h  int     `expr:"rep_employees_1h"`  // distinct employees contacted in the last hour
	RepEmployees24h int     `expr:"rep_employees_24h"` // and in the last 24 hours
	RepAgeHours     float64 `expr:"rep_age_hours"`     // hours since the sender was first seen
	FirstSeen       bool    `expr:"first_seen"`        // this is the first event ever seen from the sender

	// Across events (from the snapshot; zero without a sender, except the
	// campaign counts, which need only a text).
	FirstContact          bool    `expr:"first_contact"`                // the sender's first event to this employee
	RepPairEvents         int     `expr:"rep_pair_events"`              // the sender's events to this employee, this one included
	ShortCallAgoMin       float64 `expr:"short_call_ago_min"`           // minutes since the sender's latest missed or short call to this employee; -1 if none
	CallThenMessage       bool    `expr:"call_then_message"`            // a message within 2 hours after a missed or short call to the same employee
	RepShortCallEmployees int     `expr:"rep_short_call_employees_24h"` // employees the sender reached by missed or short calls in 24h (wangiri)
	RepFraudReports       int     `expr:"rep_fraud_reports"`            // SOC "fraud" verdicts on the sender's alerts
	RepFalsePositives     int     `expr:"rep_false_positives"`          // SOC "legit" verdicts on the sender's alerts
	Allowlisted           bool    `expr:"allowlisted"`                  // a SOC "legit" verdict allowlisted the sender (it expires)
	CampaignSenders       int     `expr:"campaign_senders"`             // distinct senders of this text (with small edits) in 24h
	CampaignEmployees     int     `expr:"campaign_employees"`           // distinct employees who got it in 24h
	CampaignEvents        int     `expr:"campaign_events"`              // messages of it in 24h

	// Evidence maps a feature name to a short excerpt that shows why it is
	// set ("код из смс", "sberbank-online.top"). Card numbers in it are
	// not yet masked: the detector masks every reason before output.
	Evidence map[string]string `expr:"-"`
}
