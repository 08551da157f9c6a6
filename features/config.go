package features

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"fraudwatch/features/textmodel"
)

// Config configures an Extractor. The zero value is usable: region "RU",
// the embedded lexicons, no official lines or domains, no directory.
type Config struct {
	// DefaultRegion is the ISO 3166 region (upper case, "RU") national
	// numbers are read in, and against which SenderForeign is judged.
	DefaultRegion string
	// OfficialLines are the bank's published numbers, in E.164 or
	// national form; short service numbers ("900") are allowed. They add
	// to the directory's official lines.
	OfficialLines []string
	// OfficialDomains are the bank's own domains ("examplebank.ru");
	// subdomains are official too. They add to the directory's.
	OfficialDomains []string
	// BankNames are names of the bank as customers write them ("Пример
	// Банк", "Example Bank"). They become phrases of the "bank" cue and
	// display-name claims. They add to the directory's.
	BankNames []string
	// Directory holds staff, customers and more official lines; nil means
	// none. See LoadDirectory.
	Directory *Directory
	// Lexicons is the content of a lexicon file; nil means LexiconsPath,
	// or the embedded default when that is empty too.
	Lexicons []byte
	// LexiconsPath is a lexicon file to read at construction. Set at most
	// one of Lexicons and LexiconsPath.
	LexiconsPath string
	// StemCacheSize bounds the memoised stems (default 200,000 words).
	StemCacheSize int
	// Model is the text model behind model_score; nil means the model
	// built into the binary (textmodel.Default), unless NoModel is set.
	Model *textmodel.Model
	// NoModel turns the text model off: model_score is always 0.
	NoModel bool
}

// DefaultStemCacheSize is the stem cache bound used when Config leaves it 0.
const DefaultStemCacheSize = 200_000

func (c Config) withDefaults() Config {
	if c.DefaultRegion == "" {
		c.DefaultRegion = "RU"
	}
	if c.StemCacheSize == 0 {
		c.StemCacheSize = DefaultStemCacheSize
	}
	return c
}

// Validate reports the first problem with c (after defaults are
// applied): an unknown region, both lexicon sources set, a negative cache
// size, or an official domain that is not a host name.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.DefaultRegion) != 2 || strings.ToUpper(c.DefaultRegion) != c.DefaultRegion ||
		phonenumbers.GetCountryCodeForRegion(c.DefaultRegion) == 0 {
		return fmt.Errorf("features: default region %q is not a known ISO 3166 region code (want e.g. \"RU\")", c.DefaultRegion)
	}
	if c.Lexicons != nil && c.LexiconsPath != "" {
		return errors.New("features: both Lexicons and LexiconsPath are set (set one)")
	}
	if c.StemCacheSize < 0 {
		return fmt.Errorf("features: stem cache size %d is negative", c.StemCacheSize)
	}
	for _, d := range c.OfficialDomains {
		if err := checkDomain(d); err != nil {
			return fmt.Errorf("features: official domain %q: %w", d, err)
		}
	}
	return nil
}

func checkDomain(d string) error {
	d = strings.TrimSpace(d)
	if d == "" {
		return errors.New("empty")
	}
	if strings.Contains(d, "://") || strings.ContainsAny(d, "/ @") {
		return errors.New("want a host name such as examplebank.ru, not a URL")
	}
	if !strings.Contains(d, ".") {
		return errors.New("want a host name with a dot, such as examplebank.ru")
	}
	return nil
}

func (c Config) lexiconSource() (string, []byte, error) {
	switch {
	case c.Lexicons != nil:
		return "(Config.Lexicons)", c.Lexicons, nil
	case c.LexiconsPath != "":
		b, err := os.ReadFile(c.LexiconsPath)
		if err != nil {
			return "", nil, fmt.Errorf("features: reading lexicons: %w", err)
		}
		return c.LexiconsPath, b, nil
	}
	return "lexicons/default.yaml (embedded)", defaultLexicons, nil
}

func (c Config) textModel() (*textmodel.Model, error) {
	switch {
	case c.NoModel:
		return nil, nil
	case c.Model != nil:
		return c.Model, nil
	}
	return textmodel.Default()
}
