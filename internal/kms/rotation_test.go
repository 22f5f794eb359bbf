package kms_test

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/wire"
)

const day = 24 * time.Hour

// TestAutomaticRotation: a key rotates at NextRotationDate with no request
// touching it, exactly once, and ciphertexts of every material decrypt.
func TestAutomaticRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := e.CreateKey(&wire.CreateKeyInput{})
	id := &md.KeyID
	must(e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: id, RotationPeriodInDays: ptr[int64](90)}))(t)
	st := must(e.Node.GetKeyRotationStatus(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t)
	wantNext := e.Clock.Now().Add(90 * day)
	if !st.KeyRotationEnabled || *st.RotationPeriodInDays != 90 || !st.NextRotationDate.Equal(wantNext) {
		t.Fatalf("status = %+v, want enabled, 90 days, next %v", st, wantNext)
	}
	c1 := must(e.Node.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: id, Plaintext: []byte("one")}))(t)

	e.Clock.Add(90*day - time.Second)
	if n := e.RunJobs(e.Node); n != 0 {
		t.Fatalf("ran %d jobs before the rotation date", n)
	}
	e.Clock.Add(time.Second)
	if n := e.RunJobs(e.Node); n != 1 {
		t.Fatalf("ran %d jobs at the rotation date, want 1", n)
	}
	if n := e.RunJobs(e.Node); n != 0 {
		t.Fatalf("second run ran %d jobs, want 0", n)
	}
	if got := e.EventNames(); !slices.Equal(got, []string{kms.EventRotateKey}) {
		t.Fatalf("events = %v", got)
	}
	rot := must(e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: id}))(t)
	if len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != "AUTOMATIC" || rot.Rotations[0].KeyMaterialState != "CURRENT" {
		t.Fatalf("rotations = %+v", rot.Rotations)
	}
	newMat := rot.Rotations[0].KeyMaterialID
	if newMat == kmstest.MaterialOf(t, c1.CiphertextBlob) {
		t.Fatal("rotation kept the material")
	}
	desc := must(e.Node.DescribeKey(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t)
	if desc.KeyMetadata.CurrentKeyMaterialID != newMat {
		t.Fatalf("CurrentKeyMaterialId = %s, want %s", desc.KeyMetadata.CurrentKeyMaterialID, newMat)
	}
	st = must(e.Node.GetKeyRotationStatus(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t)
	if !st.NextRotationDate.Equal(wantNext.Add(90 * day)) {
		t.Fatalf("next rotation = %v, want %v", st.NextRotationDate, wantNext.Add(90*day))
	}

	c2 := must(e.Node.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: id, Plaintext: []byte("two")}))(t)
	if kmstest.MaterialOf(t, c2.CiphertextBlob) != newMat {
		t.Fatalf("new encryption used material %s, want %s", kmstest.MaterialOf(t, c2.CiphertextBlob), newMat)
	}
	for _, c := range []struct {
		blob []byte
		pt   string
		mat  string
	}{{c1.CiphertextBlob, "one", kmstest.MaterialOf(t, c1.CiphertextBlob)}, {c2.CiphertextBlob, "two", newMat}} {
		out := must(e.Node.Decrypt(e.Ctx, &wire.DecryptInput{CiphertextBlob: c.blob}))(t)
		if string(out.Plaintext) != c.pt || out.KeyMaterialID != c.mat {
			t.Fatalf("decrypt = %q with %s, want %q with %s", out.Plaintext, out.KeyMaterialID, c.pt, c.mat)
		}
	}
	re := must(e.Node.ReEncrypt(e.Ctx, &wire.ReEncryptInput{CiphertextBlob: c1.CiphertextBlob, DestinationKeyID: id}))(t)
	if re.SourceKeyMaterialID != kmstest.MaterialOf(t, c1.CiphertextBlob) || re.DestinationKeyMaterialID != newMat {
		t.Fatalf("ReEncrypt materials = %s -> %s, want %s -> %s", re.SourceKeyMaterialID, re.DestinationKeyMaterialID, kmstest.MaterialOf(t, c1.CiphertextBlob), newMat)
	}
	out := must(e.Node.Decrypt(e.Ctx, &wire.DecryptInput{CiphertextBlob: re.CiphertextBlob}))(t)
	if string(out.Plaintext) != "one" || out.KeyMaterialID != newMat {
		t.Fatalf("re-encrypted ciphertext decrypts to %q with %s", out.Plaintext, out.KeyMaterialID)
	}
}

// TestRotationRestart: the schedule lives in the store; a new node (or a
// restarted one) rotates on time, and a scheduler down for longer than a
// period rotates once, not once per missed period.
func TestRotationRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := &e.CreateKey(&wire.CreateKeyInput{}).KeyID
	must(e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: id, RotationPeriodInDays: ptr[int64](90)}))(t)
	e.Node.Jobs.Close()
	other := e.NewNode("node-b")
	e.Clock.Add(400 * day)
	if n := e.RunJobs(other); n != 1 {
		t.Fatalf("ran %d jobs, want 1", n)
	}
	if n := e.RunJobs(other); n != 0 {
		t.Fatalf("catch-up ran %d more jobs, want 0", n)
	}
	st := must(other.GetKeyRotationStatus(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t)
	if want := e.Clock.Now().Add(90 * day); !st.NextRotationDate.Equal(want) {
		t.Fatalf("next rotation = %v, want %v", st.NextRotationDate, want)
	}
}

// TestRotationNodesRace: several nodes running the same due jobs at once
// (even all holding the lease) rotate each key exactly once.
func TestRotationNodesRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for range 5 {
		id := e.CreateKey(&wire.CreateKeyInput{}).KeyID
		must(e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &id, RotationPeriodInDays: ptr[int64](90)}))(t)
		ids = append(ids, id)
	}
	// Same node ID: every service holds the lease, so only the stores'
	// optimistic concurrency stands between them and double rotation.
	nodes := []*kmstest.Node{e.NewNode("node-x"), e.NewNode("node-x"), e.NewNode("node-x")}
	e.Clock.Add(91 * day)
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { _, _ = n.Jobs.RunDueJobs(e.Ctx) })
	}
	wg.Wait()
	e.RunJobs(e.Node) // pick up anything a conflict left for the next tick
	for _, id := range ids {
		rot := must(e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: &id}))(t)
		if len(rot.Rotations) != 1 {
			t.Fatalf("key %s rotated %d times, want 1", id, len(rot.Rotations))
		}
	}
	if got := len(e.EventNames()); got != len(ids) {
		t.Fatalf("%d RotateKey events, want %d", got, len(ids))
	}
}

// TestDisabledKeyRotation: a disabled key is not rotated; once enabled it
// rotates at the next look.
func TestDisabledKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := &e.CreateKey(&wire.CreateKeyInput{}).KeyID
	must(e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: id, RotationPeriodInDays: ptr[int64](90)}))(t)
	must(e.Node.DisableKey(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t)
	e.Clock.Add(91 * day)
	e.RunJobs(e.Node)
	if rot := must(e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: id}))(t); len(rot.Rotations) != 0 {
		t.Fatalf("disabled key rotated: %+v", rot.Rotations)
	}
	must(e.Node.EnableKey(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t)
	e.Clock.Add(time.Hour)
	e.RunJobs(e.Node)
	if rot := must(e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: id}))(t); len(rot.Rotations) != 1 {
		t.Fatalf("re-enabled key rotated %d times, want 1", len(rot.Rotations))
	}
}

// TestOnDemandRotation: on-demand rotations and ListKeyRotations agree,
// pages join up, and the 26th rotation is refused.
func TestOnDemandRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := e.CreateKey(&wire.CreateKeyInput{})
	id := &md.KeyID
	var cts [][]byte
	var mats []string
	for i := range 25 {
		c := must(e.Node.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: id, Plaintext: []byte{byte(i)}}))(t)
		cts = append(cts, c.CiphertextBlob)
		out := must(e.Node.RotateKeyOnDemand(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t)
		if out.KeyID != md.Arn {
			t.Fatalf("KeyId = %s, want %s", out.KeyID, md.Arn)
		}
		mats = append(mats, must(e.Node.DescribeKey(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t).KeyMetadata.CurrentKeyMaterialID)
	}
	_, err := e.Node.RotateKeyOnDemand(e.Ctx, &wire.KeyIDInput{KeyID: id})
	wantErr(t, err, awserr.LimitExceeded, "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: "+md.Arn)

	var listed []string
	var marker *string
	for pages := 0; ; pages++ {
		rot := must(e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: id, Limit: ptr[int64](10), Marker: marker}))(t)
		for _, r := range rot.Rotations {
			if r.RotationType != "ON_DEMAND" || r.RotationDate == nil || r.KeyID != md.KeyID {
				t.Fatalf("entry %+v", r)
			}
			listed = append(listed, r.KeyMaterialID)
		}
		if !rot.Truncated {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		marker = &rot.NextMarker
	}
	if !slices.Equal(listed, mats) {
		t.Fatalf("ListKeyRotations = %v\nwant %v", listed, mats)
	}
	all := must(e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: id, IncludeKeyMaterial: ptr("ALL_KEY_MATERIAL")}))(t)
	if len(all.Rotations) != 26 || all.Rotations[0].RotationType != "" || all.Rotations[0].KeyMaterialState != "NON_CURRENT" {
		t.Fatalf("ALL_KEY_MATERIAL: %d entries, first %+v", len(all.Rotations), all.Rotations[0])
	}
	for i, ct := range cts {
		out := must(e.Node.Decrypt(e.Ctx, &wire.DecryptInput{CiphertextBlob: ct}))(t)
		if !bytes.Equal(out.Plaintext, []byte{byte(i)}) {
			t.Fatalf("ciphertext %d decrypts to %x", i, out.Plaintext)
		}
	}
	_, err = e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: id, Marker: ptr("nonsense")})
	wantErr(t, err, awserr.InvalidMarker, "*")
}

func TestRotationErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sym := e.CreateKey(&wire.CreateKeyInput{})
	ecc := e.CreateKey(&wire.CreateKeyInput{KeySpec: ptr("ECC_NIST_P256"), KeyUsage: ptr("SIGN_VERIFY")})
	hmacKey := e.CreateKey(&wire.CreateKeyInput{KeySpec: ptr("HMAC_256"), KeyUsage: ptr("GENERATE_VERIFY_MAC")})
	ext := e.CreateKey(&wire.CreateKeyInput{Origin: ptr("EXTERNAL")})
	disabled := e.CreateKey(&wire.CreateKeyInput{})
	must(e.Node.DisableKey(e.Ctx, &wire.KeyIDInput{KeyID: &disabled.KeyID}))(t)
	pending := e.CreateKey(&wire.CreateKeyInput{})
	must(e.Node.ScheduleKeyDeletion(e.Ctx, &wire.ScheduleKeyDeletionInput{KeyID: &pending.KeyID}))(t)

	cases := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"fail/on-demand-asymmetric", func() error {
			_, err := e.Node.RotateKeyOnDemand(e.Ctx, &wire.KeyIDInput{KeyID: &ecc.KeyID})
			return err
		}, awserr.UnsupportedOperation, ""},
		{"fail/on-demand-disabled", func() error {
			_, err := e.Node.RotateKeyOnDemand(e.Ctx, &wire.KeyIDInput{KeyID: &disabled.KeyID})
			return err
		}, awserr.Disabled, disabled.Arn + " is disabled."},
		{"fail/on-demand-external-nothing-pending", func() error {
			_, err := e.Node.RotateKeyOnDemand(e.Ctx, &wire.KeyIDInput{KeyID: &ext.KeyID})
			return err
		}, awserr.KMSInvalidState, ext.Arn + " is pending import."},
		{"fail/enable-external", func() error {
			_, err := e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &ext.KeyID})
			return err
		}, awserr.UnsupportedOperation, ext.Arn + " origin is EXTERNAL which is not valid for this operation."},
		{"fail/enable-hmac", func() error {
			_, err := e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &hmacKey.KeyID})
			return err
		}, awserr.UnsupportedOperation, "*"},
		{"fail/enable-disabled", func() error {
			_, err := e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &disabled.KeyID})
			return err
		}, awserr.Disabled, disabled.Arn + " is disabled."},
		{"fail/enable-pending-deletion", func() error {
			_, err := e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &pending.KeyID})
			return err
		}, awserr.KMSInvalidState, pending.Arn + " is pending deletion."},
		{"fail/period-too-short", func() error {
			_, err := e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &sym.KeyID, RotationPeriodInDays: ptr[int64](89)})
			return err
		}, awserr.Validation, "1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90"},
		{"fail/period-too-long", func() error {
			_, err := e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &sym.KeyID, RotationPeriodInDays: ptr[int64](2561)})
			return err
		}, awserr.Validation, "*"},
		{"fail/status-pending-import", func() error {
			_, err := e.Node.GetKeyRotationStatus(e.Ctx, &wire.KeyIDInput{KeyID: &ext.KeyID})
			return err
		}, awserr.UnsupportedOperation, ext.Arn + " origin is EXTERNAL which is not valid for this operation."},
		{"fail/list-asymmetric", func() error {
			_, err := e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: &ecc.KeyID})
			return err
		}, awserr.UnsupportedOperation, "*"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, c.call(), c.code, c.msg) })
	}
	t.Run("ok/disable-then-status", func(t *testing.T) {
		must(e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &sym.KeyID}))(t)
		st := must(e.Node.GetKeyRotationStatus(e.Ctx, &wire.KeyIDInput{KeyID: &sym.KeyID}))(t)
		if *st.RotationPeriodInDays != 365 {
			t.Fatalf("default period = %d", *st.RotationPeriodInDays)
		}
		must(e.Node.DisableKeyRotation(e.Ctx, &wire.KeyIDInput{KeyID: &sym.KeyID}))(t)
		st = must(e.Node.GetKeyRotationStatus(e.Ctx, &wire.KeyIDInput{KeyID: &sym.KeyID}))(t)
		if st.KeyRotationEnabled || st.RotationPeriodInDays != nil || st.NextRotationDate != nil {
			t.Fatalf("status after disable = %+v", st)
		}
	})
}
