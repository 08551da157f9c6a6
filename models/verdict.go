package models

import (
	"encoding/json"
	"fmt"
)

// Severity orders verdicts from harmless to urgent. The zero value is
// SeverityNone. Severities compare with < and >.
type Severity int

// The severities, in increasing order.
const (
	SeverityNone Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"none", "low", "medium", "high", "critical"}

// String returns the lower-case name used on the wire and in config.
func (s Severity) String() string {
	if s < SeverityNone || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity parses one of none, low, medium, high, critical.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if n == name {
			return Severity(i), nil
		}
	}
	return SeverityNone, fmt.Errorf("unknown severity %q (want one of none, low, medium, high, critical)", name)
}

// MarshalText encodes the severity by name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < SeverityNone || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Category names a kind of fraud signal. Rules carry one category each; a
// verdict carries the categories of the rules that fired.
type Category string

// The categories of DESIGN.md.
const (
	CategoryLottery         Category = "lottery_scam"
	CategoryPurchase        Category = "purchase_scam"
	CategoryCredential      Category = "credential_request"
	CategoryImpersonation   Category = "staff_impersonation"
	CategorySafeAccount     Category = "safe_account"
	CategoryInvestment      Category = "investment_scam"
	CategoryMule            Category = "mule_recruitment"
	CategorySpam            Category = "spam"
	CategoryUnknownNumber   Category = "unknown_number"
	CategoryLookalikeNumber Category = "lookalike_number"
	CategoryLookalikeLink   Category = "lookalike_link"
	CategoryAttachment      Category = "malicious_attachment"
	CategoryCampaign        Category = "campaign"
	CategoryCallPattern     Category = "call_pattern"
	CategorySensitiveData   Category = "sensitive_data"
	// CategoryObfuscation is fraudwatch's addition to DESIGN.md: text or
	// input built to dodge matching (homoglyphs, invisible characters,
	// broken UTF-8, oversized text). Suspicious in itself.
	CategoryObfuscation Category = "obfuscation"
)

// AllCategories lists every valid category in a stable order.
func AllCategories() []Category {
	return []Category{
		CategoryLottery, CategoryPurchase, CategoryCredential, CategoryImpersonation,
		CategorySafeAccount, CategoryInvestment, CategoryMule, CategorySpam,
		CategoryUnknownNumber, CategoryLookalikeNumber, CategoryLookalikeLink,
		CategoryAttachment, CategoryCampaign, CategoryCallPattern, CategorySensitiveData,
		CategoryObfuscation,
	}
}

// Valid reports whether c is one of AllCategories.
func (c Category) Valid() bool {
	for _, k := range AllCategories() {
		if k == c {
			return true
		}
	}
	return false
}

// Reason is one rule that fired for an event: why the score is what it is.
// Evidence is an excerpt safe to show (card numbers masked); Shadow rules
// are reported but never count towards the score.
type Reason struct {
	Rule     string   `json:"rule"`
	Category Category `json:"category"`
	Weight   float64  `json:"weight"`
	Evidence string   `json:"evidence,omitempty"`
	Shadow   bool     `json:"shadow,omitempty"`
}

// Verdict is the detector's judgement of one event. Flagged is true when
// Severity is at least the configured minimum; only flagged events make
// alerts. Categories run from the strongest (unknown_number last); Reasons
// list the counting rules heaviest first, then the shadow rules.
type Verdict struct {
	EventID    string     `json:"event_id"`
	Flagged    bool       `json:"flagged"`
	Score      float64    `json:"score"`
	Severity   Severity   `json:"severity"`
	Categories []Category `json:"categories"`
	Reasons    []Reason   `json:"reasons"`
}

// MarshalJSON keeps empty lists as [] rather than null, so consumers of
// the JSON never have to special-case a harmless verdict.
func (v Verdict) MarshalJSON() ([]byte, error) {
	type plain Verdict
	p := plain(v)
	if p.Categories == nil {
		p.Categories = []Category{}
	}
	if p.Reasons == nil {
		p.Reasons = []Reason{}
	}
	return json.Marshal(p)
}
