// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the server named by TRENT_TEST_POSTGRES_URL, dropped when the
// test ends. Without that variable the test skips, or fails when the run
// requires PostgreSQL (package testenv).
//
// It is imported by tests only.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/trentkms/trent/internal/testenv"
)

// URLEnv names the variable holding the URL of the test server.
const URLEnv = "TRENT_TEST_POSTGRES_URL"

// BaseURL returns the URL of the test server, or ends tb through
// testenv.Missing when there is none.
func BaseURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(URLEnv)
	if u == "" {
		testenv.Missing(tb, testenv.Postgres, URLEnv+" is unset; start a throwaway server with: export "+URLEnv+"=$(scripts/ci/postgres.sh)")
	}
	return u
}

// FreshSchema creates an empty schema in the server at base (BaseURL when
// base is ""), dropped when tb ends, and returns a URL whose search_path
// selects it. Every connection made with that URL sees only the schema.
func FreshSchema(tb testing.TB, base string) string {
	tb.Helper()
	if base == "" {
		base = BaseURL(tb)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "trent_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("pgtest: connect: %v", err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("pgtest: drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("pgtest: %s: %v", URLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
