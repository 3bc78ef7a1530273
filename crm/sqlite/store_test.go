package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
)

func TestOpenSetsUpDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.db")
	s, _ := openAt(t, path)
	ctx := context.Background()

	// A second Open (another process's) finds the schema current and applies nothing.
	s2, _ := openAt(t, path)
	for _, st := range []*Store{s, s2} {
		v, err := st.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != len(migrations) {
			t.Errorf("schema version = %d, want %d", v, len(migrations))
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Errorf("schema_migrations has %d rows (err %v), want %d", n, err, len(migrations))
	}

	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "synchronous": "2"} {
		var got string
		if err := s.db.QueryRowContext(ctx, `PRAGMA `+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode = %v, want 0600 (it holds PII)", perm)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.db")
	s, _ := openAt(t, path)
	if _, err := s.db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, '')`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "upgrade OppSync") {
		t.Errorf("Open of a newer schema: err = %v, want one telling to upgrade", err)
	}
}

// TestConcurrentStores runs two Stores on one file, as the worker and the CLI are, each
// upserting from several goroutines while the other lists; none may fail with SQLITE_BUSY.
func TestConcurrentStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.db")
	worker, _ := openAt(t, path)
	cli, _ := openAt(t, path)
	ctx := context.Background()

	const files, perFile = 25, 4
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for si, s := range []*Store{worker, cli} {
		for g := range 2 {
			wg.Go(func() {
				for f := range files {
					var recs []ace.Record
					for i := range perFile {
						recs = append(recs, opp(fmt.Sprintf("O-%d-%d-%02d-%d", si, g, f, i), "", lm(f), "Acme Corp", "Qualified", nil))
					}
					if _, err := s.Upsert(ctx, src(fmt.Sprintf("%d-%d-%d", si, g, f)), recs); err != nil {
						errs <- err
						return
					}
					if _, err := s.List(ctx, ace.ObjectOpportunity); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	recs, err := cli.List(ctx, ace.ObjectOpportunity)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * 2 * files * perFile; len(recs) != want {
		t.Errorf("%d records, want %d", len(recs), want)
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	abs := filepath.Join(dir, "abs crm.db")
	st, err := crm.Open(ctx, "sqlite://"+strings.ReplaceAll(abs, " ", "%20"))
	if err != nil {
		t.Fatalf("crm.Open(sqlite:///…): %v", err)
	}
	defer st.Close()
	if got := st.(*Store).Path(); got != abs {
		t.Errorf("path = %q, want %q", got, abs)
	}
	if _, err := st.Upsert(ctx, src("f1"), []ace.Record{opp("O1", "", lm(1), "Acme Corp", "Qualified", nil)}); err != nil {
		t.Fatal(err)
	}
	if recs, err := st.List(ctx, ace.ObjectOpportunity); err != nil || len(recs) != 1 {
		t.Errorf("List = %d records, %v; want 1", len(recs), err)
	}

	t.Chdir(dir)
	rel, err := crm.Open(ctx, "sqlite:data.db")
	if err != nil {
		t.Fatalf("crm.Open(sqlite:data.db): %v", err)
	}
	defer rel.Close()
	if _, err := os.Stat(filepath.Join(dir, "data.db")); err != nil {
		t.Errorf("relative database not created in the working directory: %v", err)
	}

	bad := []struct {
		url, want string
	}{
		{"sqlite://data/crm.db", `has a host "data"`},
		{"sqlite:///x.db?mode=ro", "no query"},
		{"sqlite://", "no path"},
		{"nope://user:s3cret@host/db?token=abc", `crm: unknown CRM scheme "nope" in "nope://user:REDACTED@host/db?token=REDACTED" (known: sqlite)`},
		{"data/crm.db", "has no scheme"},
		{"sqlite:///x.db\x7f", "bad CRM URL"},
	}
	for _, tt := range bad {
		_, err := crm.Open(ctx, tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("crm.Open(%q) error = %v, want it to contain %q", tt.url, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("crm.Open(%q) error leaks the password: %v", tt.url, err)
		}
	}
	missing := filepath.Join(dir, "missing", "crm.db")
	if _, err := crm.Open(ctx, "sqlite:"+missing); err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("crm.Open in a missing directory: err = %v, want ErrNotExist naming the path", err)
	}
}
