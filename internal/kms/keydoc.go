package kms

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/uuid"
)

// Store record kinds owned by this package.
const (
	kindKey   = "key"
	kindAlias = "alias"
)

// Key states (KeyState enum).
const (
	StateCreating        = "Creating"
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
	StatePendingImport   = "PendingImport"
	StateUnavailable     = "Unavailable"
	StateUpdating        = "Updating"
	// StatePendingReplicaDeletion is the state of a multi-Region primary
	// key scheduled for deletion while it still has replicas
	// (multiregion.go).
	StatePendingReplicaDeletion = "PendingReplicaDeletion"
)

// Material states (KeyMaterialState enum).
const (
	MaterialCurrent         = "CURRENT"
	MaterialNonCurrent      = "NON_CURRENT"
	MaterialPendingRotation = "PENDING_ROTATION"
)

// KeyDoc is the stored form of a KMS key. It is JSON-encoded into one store
// record; materials are sealed by the root key.
type KeyDoc struct {
	ID          string    `json:"id"`
	Account     string    `json:"account"`
	Region      string    `json:"region"`
	Created     time.Time `json:"created"`
	Description string    `json:"description"`
	Spec        string    `json:"spec"`
	Usage       string    `json:"usage"`
	Origin      string    `json:"origin"`
	State       string    `json:"state"`
	Manager     string    `json:"manager,omitempty"`

	DeletionDate      time.Time `json:"deletionDate,omitzero"`
	PendingWindowDays int       `json:"pendingWindowDays,omitempty"`

	Policy string   `json:"policy"`
	Tags   []TagDoc `json:"tags,omitempty"`

	// PolicyPrincipals maps each IAM user and role ARN the policy names to
	// the unique ID that principal had when the policy was stored: the
	// policy matches only that principal (see Authorizer.Prepare), and
	// GetKeyPolicy shows the ID once the principal is gone.
	PolicyPrincipals map[string]string `json:"policyPrincipals,omitempty"`

	Materials       []MaterialDoc `json:"materials,omitempty"`
	CurrentMaterial string        `json:"currentMaterial,omitempty"`

	RotationEnabled    bool      `json:"rotationEnabled,omitempty"`
	RotationPeriodDays int       `json:"rotationPeriodDays,omitempty"`
	NextRotation       time.Time `json:"nextRotation,omitzero"`
	OnDemandRotations  int       `json:"onDemandRotations,omitempty"`
	OnDemandStarted    time.Time `json:"onDemandStarted,omitzero"`

	ExpirationModel string    `json:"expirationModel,omitempty"`
	ValidTo         time.Time `json:"validTo,omitzero"`

	MultiRegion bool `json:"multiRegion,omitempty"`
	// The multi-Region configuration (multiregion.go): the primary's
	// Region ("" for a key made before replication: its own), the other
	// members' Regions, the configuration's version, the Regions not yet
	// sent its current shared properties (primary only), and the state a
	// key in Updating returns to.
	PrimaryRegion    string   `json:"primaryRegion,omitempty"`
	ReplicaRegions   []string `json:"replicaRegions,omitempty"`
	MREpoch          int64    `json:"mrEpoch,omitempty"`
	ReplicaPending   []string `json:"replicaPending,omitempty"`
	PriorState       string   `json:"priorState,omitempty"`
	CustomKeyStoreID string   `json:"customKeyStoreId,omitempty"`
	XksKeyID         string   `json:"xksKeyId,omitempty"`
	// ReplicaSince is the MREpoch at which each replica Region was last
	// made a member (shared, so that a new primary has it): a notice that
	// a Region's replica was deleted names the epoch of that replica, and
	// one older than the Region's entry is about an earlier replica there.
	ReplicaSince map[string]int64 `json:"replicaSince,omitempty"`
	// HandoverFrom is, on a new primary in Updating, the former primary's
	// Region: the handover ends here when that Region has this key's
	// state as the primary's.
	HandoverFrom string `json:"handoverFrom,omitempty"`
	// HSMKeyLabel names the key inside a CloudHSM-type custom key store,
	// and CloudHsmClusterID is that store's cluster ID (DescribeKey shows it).
	HSMKeyLabel       string `json:"hsmKeyLabel,omitempty"`
	CloudHsmClusterID string `json:"cloudHsmClusterId,omitempty"`
}

// TagDoc is one tag of a key.
type TagDoc struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// MaterialDoc is one version of a key's material.
type MaterialDoc struct {
	ID              string    `json:"id"` // 64 lowercase hex
	Sealed          []byte    `json:"sealed,omitempty"`
	State           string    `json:"state"`
	RotationType    string    `json:"rotationType,omitempty"`
	RotationDate    time.Time `json:"rotationDate,omitzero"`
	Imported        bool      `json:"imported,omitempty"`
	ImportState     string    `json:"importState,omitempty"`
	ExpirationModel string    `json:"expirationModel,omitempty"`
	ValidTo         time.Time `json:"validTo,omitzero"`
	Description     string    `json:"description,omitempty"`
	// Fingerprint identifies imported material so that a re-import of the
	// same bits is recognized after the material was deleted. It is an HMAC
	// of the material under a key derived from the material itself and the
	// key ID, so it reveals nothing usable.
	Fingerprint []byte `json:"fingerprint,omitempty"`
}

// enabled reports the KeyMetadata.Enabled flag for a state.
func enabledState(state string) bool { return state == StateEnabled }

// newKeyID returns a fresh UUID v4 key ID, or an mrk- ID for multi-Region keys.
func newKeyID(multiRegion bool) string {
	if !multiRegion {
		return uuid.New()
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "mrk-" + hex.EncodeToString(b[:])
}

// NewHexID returns a fresh ID of 64 lowercase hex digits: the form of key
// material IDs and grant IDs.
func NewHexID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// IsHexID reports whether s has the form of the IDs NewHexID returns.
func IsHexID(s string) bool { return len(s) == 64 && isLowerHex(s) }

// ValidKeyID reports whether s is a well-formed key ID.
func ValidKeyID(s string) bool {
	if strings.HasPrefix(s, "mrk-") {
		return len(s) == 36 && isLowerHex(s[4:])
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// KeyARN returns the ARN of key id in account.
func (s *Service) KeyARN(account, id string) string {
	return fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", s.partition, s.region, account, id)
}

// aliasARN returns the ARN of alias name (including "alias/") in account.
func (s *Service) aliasARN(account, name string) string {
	return fmt.Sprintf("arn:%s:kms:%s:%s:%s", s.partition, s.region, account, name)
}

// aliasDoc is the stored form of an alias. Its record ID is account + "/" +
// alias name.
type aliasDoc struct {
	Account string    `json:"account"`
	Name    string    `json:"name"`
	KeyID   string    `json:"keyId"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func aliasRecordID(account, name string) string { return account + "/" + name }
