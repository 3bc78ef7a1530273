package sfcontract

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// query is a parsed SOQL statement of the small subset the connector sends:
//
//	SELECT f, … FROM Obj [WHERE cond] [ORDER BY f, …] [LIMIT n]
//
// where cond is terms joined by AND or by OR, a parenthesised cond standing for a term, and
// a term is "f IN ('a', …)" or "f op value" with op one of = != < <= > >= and value a quoted
// string, null, a number or an unquoted datetime literal. As in Salesforce, AND and OR
// mixed on one level without parentheses are refused ("Parentheses are required whenever
// you mix the operators", SOQL and SOSL Reference, Logical Operators).
type query struct {
	fields  []string
	object  string
	where   cond // nil: every record
	orderBy []string
	limit   int
}

// cond is a WHERE condition: a term, or conditions joined by one logical operator.
type cond interface {
	match(rec map[string]any) bool
}

// logical is conditions joined by AND (all must hold) or OR (one must).
type logical struct {
	and   bool
	parts []cond
}

func (l logical) match(rec map[string]any) bool {
	for _, c := range l.parts {
		if c.match(rec) != l.and {
			return !l.and
		}
	}
	return l.and
}

type term struct {
	field string
	op    string
	vals  []literal
}

type literal struct {
	s      string
	isNull bool
	t      time.Time
	isTime bool
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ',' || c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			var b strings.Builder
			b.WriteByte('\'')
			i++
			for ; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					switch s[i] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					default:
						b.WriteByte(s[i])
					}
					continue
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated string")
			}
			i++
			toks = append(toks, b.String())
		case c == '!' || c == '<' || c == '>' || c == '=':
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r,()'!<>=", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func parseSOQL(s string) (*query, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &query{}
	if !p.keyword("SELECT") {
		return nil, fmt.Errorf("want SELECT")
	}
	for {
		f := p.next()
		if f == "" {
			return nil, fmt.Errorf("unexpected end in field list")
		}
		q.fields = append(q.fields, f)
		if p.peek() != "," {
			break
		}
		p.next()
	}
	if !p.keyword("FROM") {
		return nil, fmt.Errorf("want FROM, got %q", p.peek())
	}
	q.object = p.next()
	if p.keyword("WHERE") {
		if q.where, err = p.cond(); err != nil {
			return nil, err
		}
	}
	if p.keyword("ORDER") {
		if !p.keyword("BY") {
			return nil, fmt.Errorf("want BY after ORDER")
		}
		for {
			q.orderBy = append(q.orderBy, p.next())
			if p.peek() != "," {
				break
			}
			p.next()
		}
	}
	if p.keyword("LIMIT") {
		n, err := strconv.Atoi(p.next())
		if err != nil {
			return nil, fmt.Errorf("bad LIMIT")
		}
		q.limit = n
	}
	if p.peek() != "" {
		return nil, fmt.Errorf("unexpected token %q", p.peek())
	}
	return q, nil
}

type parser struct {
	toks []string
	i    int
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	if t != "" {
		p.i++
	}
	return t
}

func (p *parser) keyword(k string) bool {
	if strings.EqualFold(p.peek(), k) {
		p.i++
		return true
	}
	return false
}

// cond parses conditions joined by one logical operator; a parenthesised condition counts
// as one.
func (p *parser) cond() (cond, error) {
	var l logical
	op := ""
	for {
		var c cond
		if p.peek() == "(" {
			p.next()
			inner, err := p.cond()
			if err != nil {
				return nil, err
			}
			if p.next() != ")" {
				return nil, fmt.Errorf("expecting a right parentheses")
			}
			c = inner
		} else {
			t, err := p.term()
			if err != nil {
				return nil, err
			}
			c = t
		}
		l.parts = append(l.parts, c)
		next := strings.ToUpper(p.peek())
		if next != "AND" && next != "OR" {
			break
		}
		if op != "" && next != op {
			return nil, fmt.Errorf("unexpected token: %s (parentheses are required when AND and OR are mixed)", next)
		}
		op = next
		p.next()
	}
	if len(l.parts) == 1 {
		return l.parts[0], nil
	}
	l.and = op == "AND"
	return l, nil
}

func (p *parser) term() (term, error) {
	t := term{field: p.next()}
	if t.field == "" || !unicode.IsLetter(rune(t.field[0])) {
		return t, fmt.Errorf("want a field name, got %q", t.field)
	}
	if p.keyword("IN") {
		t.op = "IN"
		if p.next() != "(" {
			return t, fmt.Errorf("want ( after IN")
		}
		for {
			l, err := literalOf(p.next())
			if err != nil {
				return t, err
			}
			t.vals = append(t.vals, l)
			sep := p.next()
			if sep == ")" {
				break
			}
			if sep != "," {
				return t, fmt.Errorf("want , or ) in IN list, got %q", sep)
			}
		}
		return t, nil
	}
	t.op = p.next()
	switch t.op {
	case "=", "!=", "<", "<=", ">", ">=":
	default:
		return t, fmt.Errorf("unsupported operator %q", t.op)
	}
	l, err := literalOf(p.next())
	if err != nil {
		return t, err
	}
	t.vals = []literal{l}
	return t, nil
}

func literalOf(tok string) (literal, error) {
	switch {
	case strings.HasPrefix(tok, "'"):
		return literal{s: tok[1:]}, nil
	case strings.EqualFold(tok, "null"):
		return literal{isNull: true}, nil
	}
	if t, err := time.Parse(time.RFC3339, tok); err == nil {
		return literal{s: tok, t: t, isTime: true}, nil
	}
	if _, err := strconv.ParseFloat(tok, 64); err == nil {
		return literal{s: tok}, nil
	}
	return literal{}, fmt.Errorf("unsupported value %q (strings must be quoted)", tok)
}

func (q *query) match(rec map[string]any) bool {
	return q.where == nil || q.where.match(rec)
}

func (t term) match(rec map[string]any) bool {
	s, isNull := valueText(rec[t.field])
	cmp := func(l literal) int {
		if l.isTime {
			vt, err := parseTime(s)
			if err != nil {
				return -2
			}
			return vt.Compare(l.t)
		}
		return strings.Compare(s, l.s)
	}
	if t.op == "IN" {
		for _, l := range t.vals {
			if !isNull && !l.isNull && cmp(l) == 0 {
				return true
			}
		}
		return false
	}
	l := t.vals[0]
	if l.isNull {
		switch t.op {
		case "=":
			return isNull
		case "!=":
			return !isNull
		}
		return false
	}
	if isNull {
		return t.op == "!="
	}
	c := cmp(l)
	if c == -2 {
		return false
	}
	switch t.op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func valueText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, x == ""
	}
	return fmt.Sprint(v), false
}

func parseTime(s string) (time.Time, error) {
	for _, l := range []string{time.RFC3339Nano, sfTime} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a datetime: %q", s)
}

// sort orders recs by the ORDER BY fields (datetimes and strings compare as text in
// Salesforce's fixed-width datetime form).
func (q *query) sort(recs []map[string]any) {
	sort.SliceStable(recs, func(i, j int) bool {
		for _, f := range q.orderBy {
			a, _ := valueText(recs[i][f])
			b, _ := valueText(recs[j][f])
			if a != b {
				return a < b
			}
		}
		return false
	})
}
