package node

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// TestRegionRefusesUnmovedKeys: on a store that several Regions shared
// before Regions were kept apart, a Region other than the home whose keys
// are among the home's records refuses to start (it would not see them),
// and starts once they are gone; a Region with no keys there starts.
func TestRegionRefusesUnmovedKeys(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := regionStore(ctx, st, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	old := `{"id":"1234abcd-12ab-34cd-56ef-1234567890ab","region":"eu-west-1"}`
	if err := st.Apply(ctx, store.Op{Kind: "key", ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Data: []byte(old), Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := regionStore(ctx, st, "ap-southeast-2"); err != nil {
		t.Fatalf("a Region with no keys among the home's: %v", err)
	}
	_, _, err = regionStore(ctx, st, "eu-west-1")
	if err == nil || !strings.Contains(err.Error(), "holds 1 keys of Region eu-west-1") {
		t.Fatalf("eu-west-1 with a key among the home's records: %v", err)
	}
	if err := st.Apply(ctx, store.Op{Kind: "key", ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Delete: true}); err != nil {
		t.Fatal(err)
	}
	if _, home, err := regionStore(ctx, st, "eu-west-1"); err != nil || home != "us-east-1" {
		t.Fatalf("eu-west-1 once moved: home %q, %v", home, err)
	}
}
