package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

// An outbound file with bytes that are not valid UTF-8 (Latin-1 "Müller") syncs its good
// records, and the CRM holds only valid UTF-8: every text the database stores, the raw
// record and the mapped columns and the change log, is valid.
func TestStoredRecordsAreValidUTF8(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "ace", "testdata", "encoding", "opportunity-invalid-utf8.json"))
	if err != nil {
		t.Fatal(err)
	}
	const key = "opportunity-outbound/latin1.json"
	f, err := ace.ParseOutbound(key, body)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "crm.db")
	s, _ := openAt(t, path)
	res, err := s.Upsert(context.Background(), crm.Source{Key: key, ETag: `"e1"`}, f.Records)
	if err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	texts := 0
	for _, table := range []string{"opportunities", "leads", "change_log"} {
		rows, err := db.Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				var ok bool
				switch x := v.(type) {
				case string:
					ok = utf8.ValidString(x)
				case []byte:
					ok = utf8.Valid(x)
				default:
					continue
				}
				texts++
				if !ok {
					t.Errorf("%s.%s holds invalid UTF-8: %q", table, cols[i], fmt.Sprint(v))
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		_ = rows.Close()
	}
	var company string
	if err := db.QueryRow("SELECT customer_company_name FROM opportunities WHERE ace_id = 'O0000001'").Scan(&company); err != nil || company != "Müller GmbH" {
		t.Errorf("O0000001's company = %q, %v; want the valid UTF-8 Müller GmbH", company, err)
	}
	if res.Inserted != 1 || f.Problem() == nil {
		t.Errorf("upsert = %+v, problem %v; want the valid record inserted and the file quarantined", res, f.Problem())
	}
	if texts == 0 {
		t.Fatal("read no text from the database: the test would prove nothing")
	}
}
