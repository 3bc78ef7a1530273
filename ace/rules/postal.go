package rules

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/oppsync/oppsync/ace"
)

// PostalFormat is one country's postal code format from PostalCodeValidations.csv.
type PostalFormat struct {
	Country string
	// Message is ACE's error message for the country, as in the table.
	Message string
	// Formats are the alternatives the message gives, e.g. ["A9A 9A9", "A9A9A9"].
	Formats []string
	re      *regexp.Regexp
}

// Match reports whether code has one of the country's formats.
func (p *PostalFormat) Match(code string) bool { return p.re.MatchString(code) }

var reMustBeIn = regexp.MustCompile(`(?i)must be in (.+?) format`)

// postalFormatOverrides replaces formats that the "9 = digit, A = letter" reading of
// PostalCodeValidations.csv gets wrong, keyed by the table's country name. Each entry quotes
// the table's text.
var postalFormatOverrides = map[string]string{
	// "Netherlands postal code must be in 9999 AC or 9999AC format": Dutch codes end in two
	// letters; the C is not literal.
	"Netherlands": `\d{4} ?[A-Z]{2}`,
	// "Great Britain postal code must be in DT3 6GB OR L2 2DP format": two examples, not a
	// format; use the United Kingdom's "A(A)N(A/N)NAA OR A(A)N(A/N) NAA".
	"Great Britain": `[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}`,
}

// postalPattern turns one format of PostalCodeValidations.csv into a regular expression:
// 9 and N are digits, A a letter, "(X)" an optional X, "(A/N)" a letter or digit; anything
// else stands for itself ("B-9999", "KB9999", "986NN").
func postalPattern(format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if ch == '(' {
			if j := strings.IndexByte(format[i:], ')'); j > 0 {
				inner := format[i+1 : i+j]
				b.WriteString("(?:" + postalPattern(strings.ReplaceAll(inner, "/", "|")) + ")?")
				i += j
				continue
			}
		}
		switch ch {
		case '9', 'N':
			b.WriteString(`\d`)
		case 'A':
			b.WriteString(`[A-Z]`)
		case '|':
			b.WriteString("|")
		default:
			b.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	return b.String()
}

var reFormatOr = regexp.MustCompile(`(?i)\s+or\s+`)

func loadPostalFormats(fsys fs.FS) (map[string]*PostalFormat, error) {
	t, err := readTable(fsys, filePostalFormats)
	if err != nil {
		return nil, err
	}
	c, err := t.columns(colPostalCountry, colPostalMessage)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*PostalFormat)
	for _, row := range t.rows {
		country, msg := cell(row, c[colPostalCountry]), cell(row, c[colPostalMessage])
		m := reMustBeIn.FindStringSubmatch(msg)
		if country == "" || m == nil {
			return nil, fmt.Errorf("ace: field table %s: no \"must be in … format\" for %q: %q", t.name, country, msg)
		}
		p := &PostalFormat{Country: country, Message: msg, Formats: reFormatOr.Split(strings.TrimSpace(m[1]), -1)}
		var alts []string
		if o, ok := postalFormatOverrides[country]; ok {
			alts = []string{o}
		} else {
			for _, f := range p.Formats {
				alts = append(alts, postalPattern(f))
			}
		}
		// Letters in either case: the table writes formats in capitals only.
		p.re, err = regexp.Compile(`(?i)^(?:` + strings.Join(alts, "|") + `)$`)
		if err != nil {
			return nil, fmt.Errorf("ace: field table %s: format of %q: %w", t.name, country, err)
		}
		out[countryKey(country)] = p
	}
	return out, nil
}

func loadNoPostalCode(fsys fs.FS) (map[string]string, error) {
	t, err := readTable(fsys, fileNoPostalCode)
	if err != nil {
		return nil, err
	}
	c, err := t.columns(colNoPostalCodeCountr)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for _, row := range t.rows {
		if n := cell(row, c[colNoPostalCodeCountr]); n != "" {
			out[countryKey(n)] = n
		}
	}
	return out, nil
}

// countryKey normalises a country name for lookups across tables, which spell some names
// differently: "Bonaire,Sint Eustatius and Saba" beside "Bonaire, Sint Eustatius and Saba",
// "Saint Helena, Ascension and  Tristan Da Cunha" with two spaces, "MACAO".
func countryKey(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}

// PostalFormatFor returns the postal code format of country, or nil when the table has none.
func (r *Rules) PostalFormatFor(country string) *PostalFormat {
	return r.PostalFormats[countryKey(country)]
}

// HasPostalCode reports whether country takes a postal code (CountriesWithoutPostalCode.csv).
func (r *Rules) HasPostalCode(country string) bool {
	_, none := r.NoPostalCode[countryKey(country)]
	return !none
}

// checkPostalCode applies PostalCodeValidations.csv and CountriesWithoutPostalCode.csv.
func (c *recordCheck) checkPostalCode() {
	code, country := c.str("postalCode"), c.str("country")
	if code == "" || country == "" {
		return
	}
	if !c.rules.HasPostalCode(country) {
		// Opportunity-Fields.csv, postalCode: "Countries without postal code will no longer take values."
		c.add("postalCode", RulePostalCode, "postalCode is set but %s has no postal codes (%s); send null",
			country, fileNoPostalCode)
		return
	}
	if p := c.rules.PostalFormatFor(country); p != nil && !p.Match(code) {
		c.add("postalCode", RulePostalCode, "postalCode (%s): %s", ace.DescribeString(code), p.Message)
	}
}
