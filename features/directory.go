package features

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// Directory is who the bank knows: its official lines and domains, its
// staff and the customers who consented to be contacted over WhatsApp.
// It is a data file (YAML) maintained outside the code:
//
//	bank_names: ["Пример Банк", "Example Bank"]   # what the bank is called in text and display names
//	official_lines:
//	  - number: "+7 800 100-00-00"                 # E.164 or national form
//	    name: "Контакт-центр"
//	  - number: "900"                              # short lines are allowed
//	official_domains: [examplebank.ru]            # subdomains are official too
//	staff:
//	  - id: emp-1042                               # employee id, as in events' "to"
//	    name: "Иван Петров"
//	    numbers: ["+79161234567"]
//	customers:
//	  - number: "+79031234567"
//	    name: "Мария Иванова"                      # optional
//
// Numbers are checked and converted to E.164 by NewExtractor, which knows
// the default region; an invalid number there is an error naming the entry.
type Directory struct {
	BankNames       []string       `yaml:"bank_names"`
	OfficialLines   []OfficialLine `yaml:"official_lines"`
	OfficialDomains []string       `yaml:"official_domains"`
	Staff           []StaffMember  `yaml:"staff"`
	Customers       []Customer     `yaml:"customers"`

	source string // file name for errors
}

// OfficialLine is one of the bank's published numbers.
type OfficialLine struct {
	Number string `yaml:"number"`
	Name   string `yaml:"name"`
}

// StaffMember is an employee with the numbers registered for them. ID is
// the employee id events carry in "to" (optional).
type StaffMember struct {
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Numbers []string `yaml:"numbers"`
}

// ParseDirectory decodes a directory file strictly: unknown keys are
// errors, so a misspelt section is not silently empty.
func ParseDirectory(data []byte) (*Directory, error) {
	return parseDirectory("directory", data)
}

// LoadDirectory reads and parses the directory file at path. Errors name
// the file.
func LoadDirectory(path string) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading directory: %w", err)
	}
	return parseDirectory(path, data)
}

func parseDirectory(name string, data []byte) (*Directory, error) {
	var d Directory
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("directory %s: %w", name, err)
	}
	d.source = name
	for i, l := range d.OfficialLines {
		if l.Number == "" {
			return nil, fmt.Errorf("directory %s: official_lines[%d]: number is empty", name, i)
		}
	}
	for i, s := range d.Staff {
		if s.Name == "" {
			return nil, fmt.Errorf("directory %s: staff[%d]: name is empty", name, i)
		}
	}
	for i, c := range d.Customers {
		if c.Number == "" {
			return nil, fmt.Errorf("directory %s: customers[%d]: number is empty", name, i)
		}
	}
	return &d, nil
}

// Customer is a known customer who consented to WhatsApp contact.
type Customer struct {
	Number string `yaml:"number"`
	Name   string `yaml:"name"`
}

func (d *Directory) name() string {
	if d == nil || d.source == "" {
		return "directory"
	}
	return "directory " + d.source
}
