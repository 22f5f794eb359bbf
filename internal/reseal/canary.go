package reseal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

// CanaryKind is the record kind of the root key canary. Its one record,
// ID "canary", holds a fixed value sealed under the root key that seals
// the store, so that a node can tell at start whether its root key opens
// what the store holds, and which root key the store needs if not. Rotate
// re-seals it with everything else.
const CanaryKind = "rootcanary"

const canaryID = "canary"

// canaryAAD binds the canary blob to its purpose; canaryValue is what it
// seals (nothing secret: only whether it opens matters).
var (
	canaryAAD   = []byte("trent/root-key-canary/v1")
	canaryValue = []byte("trent root key canary")
)

// ErrNoCanary is returned by CheckCanary when the store holds no canary
// (a fresh store, or one written by a Trent that did not keep one).
var ErrNoCanary = errors.New("reseal: the store holds no root key canary")

// MismatchError says that a node's root key cannot open what the store
// holds. It names root keys by ID only.
type MismatchError struct {
	// Need is the ID of the root key that sealed the store.
	Need string
	// Have are the IDs of the root keys the node holds, the current one
	// first (only the current one if the provider cannot list them).
	Have []string
	// What is the record that did not open, for the message.
	What string
	// Cause is why it did not open; it wraps rootkey.ErrOpen.
	Cause error
}

func (e *MismatchError) Error() string {
	why := "this node does not hold that key"
	if contains(e.Have, e.Need) {
		// Same ID, different key: e.g. another HSM token whose key has the
		// same label.
		why = "this node has a key with that ID, but it is another key"
	}
	return fmt.Sprintf("root key mismatch: the store needs root key %s (the key that sealed its %s), and %s; this node has root key(s) %s. "+
		"Start it with the root key that sealed the store (--root-key-file / root_key.file, TRENT_ROOT_KEY, or the PKCS#11 token and key label), or point it at another store",
		e.Need, e.What, why, strings.Join(e.Have, ", "))
}

func (e *MismatchError) Unwrap() error { return e.Cause }

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// HeldIDs returns the IDs of the root keys root holds, the current one
// first.
func HeldIDs(root rootkey.Provider) []string {
	cur := root.CurrentID()
	ids := []string{cur}
	if l, ok := root.(rootkey.Lister); ok {
		for _, id := range l.IDs() {
			if id != cur {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// CheckSealed opens blob, sealed with aad, under root and returns a
// *MismatchError (naming what) if root lacks the key that sealed it. Other
// failures (an HSM that cannot be reached) are returned as they are.
func CheckSealed(root rootkey.Provider, what string, blob, aad []byte) error {
	pt, err := root.Open(blob, aad)
	if err == nil {
		clear(pt)
		return nil
	}
	if !errors.Is(err, rootkey.ErrOpen) {
		return err
	}
	need, herr := rootkey.SealedBy(blob)
	if herr != nil {
		need = "(unreadable header)"
	}
	return &MismatchError{Need: need, Have: HeldIDs(root), What: what, Cause: err}
}

// CheckCanary opens the store's canary with root. It returns nil if it
// opens, ErrNoCanary if the store has none, a *MismatchError if root lacks
// the key that sealed it, or the store's or provider's error.
func CheckCanary(ctx context.Context, st store.Store, root rootkey.Provider) error {
	rec, err := st.Get(ctx, CanaryKind, canaryID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoCanary
	}
	if err != nil {
		return fmt.Errorf("reseal: read the root key canary: %w", err)
	}
	return CheckSealed(root, "root key canary", rec.Data, canaryAAD)
}

// CheckCanaryData opens data, the content of a canary record read by
// other means than the store (a backup), as CheckCanary does.
func CheckCanaryData(root rootkey.Provider, data []byte) error {
	return CheckSealed(root, "root key canary", data, canaryAAD)
}

// CanaryNeeds returns the ID of the root key that sealed the store's
// canary, or ErrNoCanary.
func CanaryNeeds(ctx context.Context, st store.Store) (string, error) {
	rec, err := st.Get(ctx, CanaryKind, canaryID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNoCanary
	}
	if err != nil {
		return "", fmt.Errorf("reseal: read the root key canary: %w", err)
	}
	return rootkey.SealedBy(rec.Data)
}

// WriteCanary seals a canary under root's current key and stores it if the
// store has none. If another node stored one first, that one is checked
// instead (CheckCanary).
func WriteCanary(ctx context.Context, st store.Store, root rootkey.Provider) error {
	blob, err := root.Seal(canaryValue, canaryAAD)
	if err != nil {
		return fmt.Errorf("reseal: seal the root key canary: %w", err)
	}
	err = st.Apply(ctx, store.Op{Kind: CanaryKind, ID: canaryID, Data: blob, Create: true})
	if errors.Is(err, store.ErrExists) {
		return CheckCanary(ctx, st, root)
	}
	if err != nil {
		return fmt.Errorf("reseal: store the root key canary: %w", err)
	}
	return nil
}

// resealCanary re-seals the canary under the current root key cur if it is
// sealed under another; it reports whether it rewrote it.
func resealCanary(ctx context.Context, st store.Store, root rootkey.Provider, cur string) (bool, error) {
	for range 20 {
		rec, err := st.Get(ctx, CanaryKind, canaryID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if id, err := rootkey.SealedBy(rec.Data); err == nil && id == cur {
			return false, nil
		}
		if err := CheckSealed(root, "root key canary", rec.Data, canaryAAD); err != nil {
			return false, fmt.Errorf("reseal: %w", err)
		}
		blob, err := root.Seal(canaryValue, canaryAAD)
		if err != nil {
			return false, err
		}
		err = st.Apply(ctx, store.Op{Kind: CanaryKind, ID: canaryID, Data: blob, IfVersion: rec.Version})
		if !errors.Is(err, store.ErrConflict) {
			return err == nil, err
		}
	}
	return false, errors.New("reseal: root key canary: too many concurrent updates")
}
