package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/keysfile"
	"github.com/trentkms/trent/internal/kms"
)

// keysFileLease serializes the nodes of a cluster that apply a keys file
// at once: the second finds the keys as the first left them.
const keysFileLease = "keys-file"

// applyKeysFile applies the keys file (--keys-file) before the node serves.
// Each change is recorded in the trail as the KMS API call it is, made by
// the file (keysfile.Identity).
func (n *Node) applyKeysFile(cfg *config.File, az kms.Authorizer, log *slog.Logger) error {
	if cfg.KeysFile == "" {
		return nil
	}
	data, err := os.ReadFile(cfg.KeysFile)
	if err != nil {
		return fmt.Errorf("keys file: %w", err)
	}
	f, err := keysfile.Parse(data, cfg.AccountID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	holder := AuditNode(cfg) + "/" + kms.NewHexID()[:8]
	for {
		ok, err := n.Store.TryLease(ctx, keysFileLease, holder, time.Minute)
		if err != nil {
			return fmt.Errorf("keys file: %w", err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("keys file: another node has been applying it for too long: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer n.Store.ReleaseLease(context.Background(), keysFileLease, holder)
	changes, err := keysfile.Apply(ctx, keysfile.Config{Service: n.Service, Imports: n.Imports, Authorizer: az,
		Record: n.recordKeysFileChange, Logger: log}, f)
	if err != nil {
		return err
	}
	log.Info("keys file applied", "file", cfg.KeysFile, "keys", len(f.Keys), "changes", changes)
	return nil
}

// recordKeysFileChange records a change of the keys file as the API call
// it is, with the file as its principal.
func (n *Node) recordKeysFileChange(ctx context.Context, c keysfile.Change) error {
	if n.Audit == nil {
		return nil
	}
	ev := &audit.Event{
		EventVersion: audit.EventVersion, EventTime: time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		UserIdentity: &audit.UserIdentity{Type: "AWSService", AccountID: c.Account, InvokedBy: keysfile.Identity, PrincipalID: keysfile.Identity},
		EventSource:  audit.EventSource, EventName: c.Op, AWSRegion: n.Config.Region,
		SourceIPAddress: keysfile.Identity, UserAgent: keysfile.Identity,
		RequestParameters: audit.SafeInput(c.Op, c.Input), EventID: audit.NewEventID(),
		Resources: []audit.Resource{{AccountID: c.Account, Type: audit.ResourceTypeKMSKey, ARN: c.KeyARN}},
		EventType: audit.EventTypeAPICall, ManagementEvent: true, RecipientAccountID: c.Account,
		EventCategory:       audit.EventCategory,
		AdditionalEventData: map[string]any{"keysFile": n.Config.KeysFile},
	}
	if b, err := json.Marshal(c.Output); err == nil {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil && len(m) > 0 {
			ev.ResponseElements = audit.SafeParameters(c.Op, m)
		}
	}
	return n.Audit.Append(ctx, ev)
}
