// Package sqlite is OppSync's embedded default CRM: a single SQLite file holding the
// opportunities and leads ACE sent, with their raw JSON and a change log. It runs on
// modernc.org/sqlite (pure Go, no cgo), so the binaries stay static.
//
// Several processes may use one file at once (the worker upserting, the CLI's
// `crm export` reading): the database runs in WAL mode, so readers never block the
// writer, every write transaction starts IMMEDIATE, so writers queue on the file lock up
// front instead of failing with SQLITE_BUSY when upgrading a read lock, and a 10 s busy
// timeout absorbs the queueing.
//
// Importing the package registers the "sqlite" scheme with crm.Open:
//
//	sqlite:///var/lib/oppsync/crm.db   absolute path (three slashes: empty host)
//	sqlite:data/crm.db                 path relative to the working directory
//
// sqlite://data/crm.db is rejected rather than guessed at, because URL syntax makes "data"
// its host, not part of the path. Percent-escapes in the path are decoded.
//
// The store holds customer PII (names, emails of leads, once accepted); it never logs or
// prints record contents and creates the file readable by its owner only.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/oppsync/oppsync/crm"
)

// Scheme is the crm.Open URL scheme of this connector.
const Scheme = "sqlite"

// BusyTimeout is how long a statement waits for another connection or process holding
// the database lock before failing with SQLITE_BUSY.
const BusyTimeout = 10 * time.Second

func init() {
	crm.Register(Scheme, openURL)
	crm.RegisterCheck(Scheme, func(u *url.URL) error { _, err := urlPath(u); return err })
}

// urlPath returns the database path a sqlite: URL names, or why the URL is not one.
func urlPath(u *url.URL) (string, error) {
	const want = "want sqlite:///absolute/path.db or sqlite:relative/path.db"
	if u.User != nil || u.Host != "" {
		return "", fmt.Errorf("sqlite URL has a host %q (sqlite://dir/file.db makes dir the host); %s", u.Host, want)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("sqlite URL takes no query or fragment; %s", want)
	}
	path := u.Path
	if u.Opaque != "" {
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("sqlite URL path: %w", err)
		}
		path = p
	}
	if path == "" {
		return "", fmt.Errorf("sqlite URL has no path; %s", want)
	}
	return path, nil
}

// Store is the SQLite CRM. It implements crm.Store and is safe for concurrent use, also
// by several Stores (in one or several processes) on the same file.
type Store struct {
	// Now is the clock stamped into updated_at and applied_at; time.Now by default.
	// Tests replace it to make state comparable; set it before the Store is used.
	Now func() time.Time

	db   *sql.DB
	path string

	// afterRecord, when set (tests only), runs inside the Upsert transaction after each
	// record is written; an error aborts the call as a crash would.
	afterRecord func(ctx context.Context, i int) error
}

var _ crm.Store = (*Store)(nil)

// Open opens or creates the CRM database at path (a file name, not a URL) and brings its
// schema up to date. The directory must exist.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite CRM: empty database path")
	}
	if strings.ContainsRune(path, '?') {
		// The driver reads everything after '?' as its own parameters.
		return nil, fmt.Errorf("sqlite CRM: database path %q contains '?'; rename the file", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite CRM: create %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite CRM: open %s: %w", path, err)
	}
	s := &Store{Now: time.Now, db: db, path: path}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite CRM: open %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite CRM: migrate schema of %s: %w", path, err)
	}
	return s, nil
}

// dsn returns the driver's data source name for path. The parameters apply to every
// pooled connection:
//   - WAL: readers and one writer proceed concurrently, also across processes;
//   - busy timeout: wait for a lock instead of failing at once;
//   - foreign keys: SQLite leaves them off by default;
//   - synchronous FULL: a committed upsert survives power loss, because the worker deletes
//     or tags the ACE file once Upsert returns, and ACE will not send it again;
//   - txlock immediate: a write transaction takes the write lock at BEGIN, where the busy
//     timeout applies; a deferred one upgrading later can fail with SQLITE_BUSY at once.
func dsn(path string) string {
	if strings.HasPrefix(path, "file:") {
		path = "./" + path // a relative file named file:…, not an SQLite URI
	}
	return path + fmt.Sprintf("?_busy_timeout=%d&_journal_mode=WAL&_foreign_keys=1&_synchronous=FULL&_txlock=immediate",
		BusyTimeout.Milliseconds())
}

// createPrivate creates path with mode 0600 if it does not exist, so the PII it will hold
// is not world-readable (SQLite would use 0644; its -wal and -shm files copy the mode).
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// openURL is the crm.OpenFunc for the sqlite scheme; see the package comment for the forms.
func openURL(ctx context.Context, u *url.URL) (crm.Store, error) {
	path, err := urlPath(u)
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the database file name.
func (s *Store) Path() string { return s.path }

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite CRM %s: ping: %w", s.path, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// timeLayout is how times are stored: UTC, fixed width, so text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// formatTime returns t in timeLayout, or "" for the zero time (absent).
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reverses formatTime.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeLayout, s)
}
