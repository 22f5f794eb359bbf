package keyimport

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/trentkms/trent/internal/algo"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// Service implements the imported key material operations of the AWS KMS
// API (GetParametersForImport, ImportKeyMaterial,
// DeleteImportedKeyMaterial) over the core's keys.
type Service struct {
	kms   *kms.Service
	store store.Store
	root  rootkey.Provider
	log   *slog.Logger
}

// New returns the import service of svc and registers with svc the job
// that purges the import parameters of expired import tokens.
func New(svc *kms.Service) *Service {
	s := &Service{kms: svc, store: svc.Store(), root: svc.Root(), log: svc.Logger()}
	svc.HandleJobs(jobPurgeImport, s.purgeJob)
	return s
}

// Record kind and job action of import parameters.
const (
	// kindImportParams records hold one GetParametersForImport answer: the
	// wrapping private key, sealed by the root key, and what it is bound
	// to. The record ID is the import token's ID (32 lowercase hex).
	kindImportParams = "importparams"
	// jobPurgeImport deletes an importparams record when its token
	// expires; the job's KeyID field holds the token ID.
	jobPurgeImport = "purgeimport"
)

// Import limits.
const (
	importTokenValidity = 24 * time.Hour
	maxValidToAhead     = 365 * 24 * time.Hour
	importTokenVersion  = 0x01
	importTokenIDLen    = 16
)

// Wrapping algorithms (AlgorithmSpec) and wrapping key specs, in AWS's order.
var (
	enumWrappingAlg     = []string{"RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "SM2PKE"}
	enumWrappingKeySpec = []string{"RSA_2048", "RSA_3072", "RSA_4096", "SM2"}
	enumExpirationModel = []string{kms.ExpirationExpires, kms.ExpirationDoesNotExpire}
	enumImportType      = []string{importNew, importExisting}
)

// Import types (ImportType enum).
const (
	importNew      = "NEW_KEY_MATERIAL"
	importExisting = "EXISTING_KEY_MATERIAL"
)

var (
	materialDescPattern = regexp.MustCompile(`^[a-zA-Z0-9:/_\s.-]+$`)
	materialIDPattern   = regexp.MustCompile(`^[a-f0-9]+$`)
)

// importParamsDoc is the stored form of one set of import parameters.
type importParamsDoc struct {
	KeyID        string    `json:"keyId"`
	Account      string    `json:"account"`
	Algorithm    string    `json:"algorithm"`
	WrappingSpec string    `json:"wrappingSpec"`
	Expires      time.Time `json:"expires"`
	// SealedPrivate is the PKCS#8 wrapping private key sealed by the root
	// key with importKeyAAD(token ID).
	SealedPrivate []byte `json:"sealedPrivate"`
}

// tokenBinding is what an import token carries, sealed by the root key.
type tokenBinding struct {
	KeyID   string `json:"k"`
	Account string `json:"a"`
	Expires int64  `json:"e"` // unix seconds
}

func importKeyAAD(tokenID string) []byte {
	return []byte("trent/import-wrapping-key/v1\x00" + tokenID)
}

func importTokenAAD(tokenID string) []byte {
	return []byte("trent/import-token/v1\x00" + tokenID)
}

// newImportToken returns an import token: version byte, 16-byte token ID,
// then the binding sealed by the root key under the token ID. Only Trent
// can make or read one; a token names its record and proves its key and
// expiry without a store read.
func (s *Service) newImportToken(tokenID []byte, b tokenBinding) ([]byte, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	sealed, err := s.root.Seal(data, importTokenAAD(hex.EncodeToString(tokenID)))
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 0, 1+len(tokenID)+len(sealed))
	tok = append(tok, importTokenVersion)
	tok = append(tok, tokenID...)
	return append(tok, sealed...), nil
}

// errBadImportToken is returned by parseImportToken for every malformed or
// forged token.
var errBadImportToken = errors.New("kms: invalid import token")

// parseImportToken checks a token's integrity and returns its ID (hex) and
// binding. It returns errBadImportToken for anything Trent did not issue.
func (s *Service) parseImportToken(tok []byte) (string, tokenBinding, error) {
	var b tokenBinding
	if len(tok) < 1+importTokenIDLen+1 || tok[0] != importTokenVersion {
		return "", b, errBadImportToken
	}
	id := hex.EncodeToString(tok[1 : 1+importTokenIDLen])
	data, err := s.root.Open(tok[1+importTokenIDLen:], importTokenAAD(id))
	if err != nil {
		return "", b, errBadImportToken
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return "", b, errBadImportToken
	}
	return id, b, nil
}

func invalidImportToken() error {
	return awserr.New(awserr.InvalidImportToken, "The import token is invalid or does not belong to this KMS key.")
}

func expiredImportToken() error {
	return awserr.New(awserr.ExpiredImportToken, "The import token has expired. Call GetParametersForImport to get a new one.")
}

// GetParametersForImport implements the GetParametersForImport operation.
// Each call makes a new wrapping key pair (RSA 2048/3072/4096, or SM2 where
// SM2 is served) whose private key is sealed by the root key and stored
// with the token; token and public key are valid for 24 hours and only for
// this key. It returns UnsupportedOperationException for a key whose origin
// is not EXTERNAL and KMSInvalidStateException for a key pending deletion.
func (s *Service) GetParametersForImport(ctx context.Context, in *wire.GetParametersForImportInput) (*wire.GetParametersForImportOutput, error) {
	var v kms.Validator
	if v.Required(in.WrappingAlgorithm != nil, "wrappingAlgorithm") {
		v.Enum(in.WrappingAlgorithm, "wrappingAlgorithm", enumWrappingAlg)
	}
	if v.Required(in.WrappingKeySpec != nil, "wrappingKeySpec") {
		v.Enum(in.WrappingKeySpec, "wrappingKeySpec", enumWrappingKeySpec)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	alg, spec := *in.WrappingAlgorithm, *in.WrappingKeySpec
	conds := map[string][]string{"kms:wrappingalgorithm": {alg}, "kms:wrappingkeyspec": {spec}}
	lk, err := s.kms.OwnedKey(ctx, in.KeyID, "keyId", "kms:GetParametersForImport", conds)
	if err != nil {
		return nil, err
	}
	d := lk.Doc()
	if d.Origin != "EXTERNAL" {
		return nil, kms.OriginUnsupported(d, lk.ARN())
	}
	if err := kms.RequireNotPendingDeletion(d, lk.ARN()); err != nil {
		return nil, err
	}
	if err := kms.RefuseUpdating(d, lk.ARN()); err != nil {
		return nil, err
	}
	switch {
	case alg == "RSAES_PKCS1_V1_5":
		return nil, awserr.New(awserr.UnsupportedOperation, "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported.")
	case (alg == "SM2PKE") != (spec == "SM2"):
		return nil, awserr.Newf(awserr.Validation, "WrappingAlgorithm %s is not compatible with WrappingKeySpec %s.", alg, spec)
	case spec == "SM2" && !s.kms.SM2Enabled():
		return nil, awserr.New(awserr.Validation, "WrappingKeySpec SM2 is supported only in China Regions. Start Trent with --enable-sm2 to serve it elsewhere.")
	}
	if err := kms.FIPSAlgorithmError("WrappingAlgorithm", alg); err != nil {
		return nil, err
	}
	if err := kms.FIPSSpecError("WrappingKeySpec", spec); err != nil {
		return nil, err
	}
	priv, pub, err := s.generateWrappingKey(spec)
	if err != nil {
		return nil, err
	}
	defer clear(priv)
	tokenID := make([]byte, importTokenIDLen)
	if _, err := s.kms.Rand().Read(tokenID); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(tokenID)
	expires := s.kms.Now().UTC().Add(importTokenValidity).Truncate(time.Second)
	sealed, err := s.root.Seal(priv, importKeyAAD(id))
	if err != nil {
		return nil, err
	}
	token, err := s.newImportToken(tokenID, tokenBinding{KeyID: d.ID, Account: d.Account, Expires: expires.Unix()})
	if err != nil {
		return nil, err
	}
	rec, err := json.Marshal(importParamsDoc{KeyID: d.ID, Account: d.Account, Algorithm: alg, WrappingSpec: spec, Expires: expires, SealedPrivate: sealed})
	if err != nil {
		return nil, err
	}
	purge := kms.Job{Action: jobPurgeImport, KeyID: id, Due: expires}.Op()
	purge.Create = true
	if err := s.store.Apply(ctx,
		store.Op{Kind: kindImportParams, ID: id, Data: rec, Create: true}, purge); err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	return &wire.GetParametersForImportOutput{KeyID: lk.ARN(), ImportToken: token, PublicKey: pub, ParametersValidTo: wire.TS(expires)}, nil
}

// purgeJob deletes the import parameters of an import token that expired
// (the job's KeyID holds the token ID), with the job (a kms.JobHandler).
func (s *Service) purgeJob(ctx context.Context, rec store.Record, j kms.Job) (bool, error) {
	jobOp := store.Op{Kind: kms.KindJob, ID: rec.ID, Delete: true, IfVersion: rec.Version}
	err := s.store.Apply(ctx, jobOp, store.Op{Kind: kindImportParams, ID: j.KeyID, Delete: true})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// generateWrappingKey returns a fresh wrapping key pair: the private key
// as PKCS#8 DER and the public key as DER SubjectPublicKeyInfo.
func (s *Service) generateWrappingKey(spec string) (priv, pub []byte, err error) {
	if spec == "SM2" {
		k, err := sm2.GenerateKey(s.kms.Rand())
		if err != nil {
			return nil, nil, err
		}
		if priv, err = smx509.MarshalPKCS8PrivateKey(k); err != nil {
			return nil, nil, err
		}
		pub, err = smx509.MarshalPKIXPublicKey(&k.PublicKey)
		return priv, pub, err
	}
	bits, _ := strconv.Atoi(spec[len("RSA_"):])
	k, err := rsa.GenerateKey(s.kms.Rand(), bits)
	if err != nil {
		return nil, nil, err
	}
	if priv, err = x509.MarshalPKCS8PrivateKey(k); err != nil {
		return nil, nil, err
	}
	pub, err = x509.MarshalPKIXPublicKey(&k.PublicKey)
	return priv, pub, err
}

// unwrapMaterial decrypts EncryptedKeyMaterial with a wrapping private key
// (PKCS#8) as the wrapping algorithm prescribes. It returns errUnwrap for
// any failure, so that no padding oracle is exposed.
func unwrapMaterial(alg string, privPKCS8, wrapped []byte) ([]byte, error) {
	if alg == "SM2PKE" {
		k, err := smx509.ParsePKCS8PrivateKey(privPKCS8)
		if err != nil {
			return nil, err
		}
		sk, ok := k.(*sm2.PrivateKey)
		if !ok {
			return nil, errors.New("kms: wrapping key is not an SM2 key")
		}
		pt, err := sm2.Decrypt(sk, wrapped)
		if err != nil {
			return nil, errUnwrap
		}
		return pt, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(privPKCS8)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("kms: wrapping key is not an RSA key")
	}
	var h hash.Hash
	switch alg {
	case "RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_1":
		h = sha1.New()
	case "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_256":
		h = sha256.New()
	default:
		return nil, fmt.Errorf("kms: unknown wrapping algorithm %q", alg)
	}
	switch alg {
	case "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256":
		pt, err := rsa.DecryptOAEP(h, nil, rk, wrapped, nil)
		if err != nil {
			return nil, errUnwrap
		}
		return pt, nil
	}
	// RSA_AES_KEY_WRAP: RSA-OAEP(AES key) || AES-KWP(material).
	n := rk.Size()
	if len(wrapped) <= n {
		return nil, errUnwrap
	}
	kek, err := rsa.DecryptOAEP(h, nil, rk, wrapped[:n], nil)
	if err != nil {
		return nil, errUnwrap
	}
	defer clear(kek)
	if len(kek) != 16 && len(kek) != 24 && len(kek) != 32 {
		return nil, errUnwrap
	}
	pt, err := algo.KeyUnwrapPad(kek, wrapped[n:])
	if err != nil {
		return nil, errUnwrap
	}
	return pt, nil
}

var errUnwrap = errors.New("kms: key material does not unwrap")

// materialIdentity checks material against a key's spec and returns the
// bytes that identify it: the material itself for symmetric and HMAC keys,
// the public key for asymmetric keys (so that another PKCS#8 encoding of the
// same private key counts as the same material).
func materialIdentity(spec, usage string, material []byte) ([]byte, error) {
	if spec == kms.SymmetricDefault {
		if len(material) != 32 {
			return nil, awserr.New(awserr.IncorrectKeyMaterial, "kms.Key material for a SYMMETRIC_DEFAULT KMS key must be 256 bits (32 bytes).")
		}
		return material, nil
	}
	k, err := algo.ParseKey(spec, usage, material)
	if err != nil {
		return nil, awserr.Newf(awserr.IncorrectKeyMaterial, "The key material is not valid for a KMS key with key spec %s.", spec)
	}
	if spec[:4] == "HMAC" {
		return material, nil
	}
	pub, err := k.PublicKeyDER()
	if err != nil {
		return nil, awserr.Newf(awserr.IncorrectKeyMaterial, "The key material is not valid for a KMS key with key spec %s.", spec)
	}
	return pub, nil
}

// materialFingerprint returns an HMAC keyed by the material's identity over
// the key ID: equal for equal material of one key, and useless to anyone
// who does not already hold the material.
func materialFingerprint(keyID string, identity []byte) []byte {
	m := hmac.New(sha256.New, identity)
	m.Write([]byte("trent/material-fingerprint/v1\x00" + keyID))
	return m.Sum(nil)
}

func incorrectMaterial() error {
	return awserr.New(awserr.IncorrectKeyMaterial, "The key material in the request is not the same key material that was previously imported into this KMS key.")
}

// ImportKeyMaterial implements the ImportKeyMaterial operation.
//
// The first import makes the key Enabled with the material current. Later
// imports are EXISTING_KEY_MATERIAL by default: the same bits as a material
// the key had (found by fingerprint, or named by KeyMaterialId) restore that
// material under its old ID, so ciphertexts made with it decrypt again, and
// set its expiration anew; different bits are IncorrectKeyMaterialException.
// NEW_KEY_MATERIAL (symmetric keys only) adds a material PENDING_ROTATION
// that RotateKeyOnDemand makes current; only one may be pending.
//
// ExpirationModel defaults to KEY_MATERIAL_EXPIRES, which requires a ValidTo
// in the next 365 days; an expiry job deletes the material at ValidTo. Token
// errors are InvalidImportTokenException (not issued by Trent, or for
// another key) and ExpiredImportTokenException; material that does not
// unwrap is InvalidCiphertextException.
func (s *Service) ImportKeyMaterial(ctx context.Context, in *wire.ImportKeyMaterialInput) (*wire.ImportKeyMaterialOutput, error) {
	var v kms.Validator
	v.Required(in.ImportToken != nil, "importToken")
	v.BlobLen(in.ImportToken, in.ImportToken != nil, "importToken", 1, 6144)
	v.Required(in.EncryptedKeyMaterial != nil, "encryptedKeyMaterial")
	v.BlobLen(in.EncryptedKeyMaterial, in.EncryptedKeyMaterial != nil, "encryptedKeyMaterial", 1, 6144)
	v.Enum(in.ExpirationModel, "expirationModel", enumExpirationModel)
	v.Enum(in.ImportType, "importType", enumImportType)
	v.StrLen(in.KeyMaterialDescription, "keyMaterialDescription", 0, 256)
	if in.KeyMaterialDescription != nil && *in.KeyMaterialDescription != "" && !materialDescPattern.MatchString(*in.KeyMaterialDescription) {
		v.Add(*in.KeyMaterialDescription, true, "keyMaterialDescription", awserr.Pattern(materialDescPattern.String()))
	}
	checkMaterialID(&v, in.KeyMaterialID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.kms.Now().UTC()
	model := kms.ExpirationExpires
	if in.ExpirationModel != nil {
		model = *in.ExpirationModel
	}
	var validTo time.Time
	switch {
	case model == kms.ExpirationExpires && in.ValidTo == nil:
		return nil, awserr.New(awserr.Validation, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
	case model == kms.ExpirationDoesNotExpire && in.ValidTo != nil:
		return nil, awserr.New(awserr.Validation, "A validTo date cannot be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE")
	case model == kms.ExpirationExpires:
		validTo = in.ValidTo.UTC()
		if !validTo.After(now) || validTo.After(now.Add(maxValidToAhead)) {
			return nil, awserr.New(awserr.Validation, "The validTo date must be in the future and no more than 365 days from the current date.")
		}
	}
	conds := map[string][]string{"kms:expirationmodel": {model}}
	if !validTo.IsZero() {
		conds["kms:validto"] = []string{strconv.FormatInt(validTo.Unix(), 10)}
	}
	lk, err := s.kms.OwnedKey(ctx, in.KeyID, "keyId", "kms:ImportKeyMaterial", conds)
	if err != nil {
		return nil, err
	}
	if lk.Doc().Origin != "EXTERNAL" {
		return nil, kms.OriginUnsupported(lk.Doc(), lk.ARN())
	}
	if err := kms.RequireNotPendingDeletion(lk.Doc(), lk.ARN()); err != nil {
		return nil, err
	}
	material, err := s.openImport(ctx, lk, in.ImportToken, in.EncryptedKeyMaterial, now)
	if err != nil {
		return nil, err
	}
	defer clear(material)
	identity, err := materialIdentity(lk.Doc().Spec, lk.Doc().Usage, material)
	if err != nil {
		return nil, err
	}
	fp := materialFingerprint(lk.Doc().ID, identity)
	req := importRequest{model: model, validTo: validTo, fingerprint: fp, material: material, now: now}
	if in.ImportType != nil {
		req.importType = *in.ImportType
	}
	if in.KeyMaterialID != nil {
		req.materialID = *in.KeyMaterialID
	}
	if in.KeyMaterialDescription != nil {
		req.description = in.KeyMaterialDescription
	}
	var mid string
	out, err := s.kms.UpdateKey(ctx, lk.Doc().ID, func(d *kms.KeyDoc, _ int64) ([]store.Op, error) {
		if err := kms.RequireNotPendingDeletion(d, lk.ARN()); err != nil {
			return nil, err
		}
		var err error
		mid, err = s.applyImport(d, lk.ARN(), &req)
		if err != nil {
			return nil, err
		}
		var ops []store.Op
		if model == kms.ExpirationExpires {
			ops = append(ops, kms.ExpiryJobOp(d.ID, validTo))
		}
		return ops, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.kms.NotFoundKey(lk.Doc().Account, lk.Doc().ID)
	}
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	return &wire.ImportKeyMaterialOutput{KeyID: out.ARN(), KeyMaterialID: mid}, nil
}

func checkMaterialID(v *kms.Validator, id *string) {
	if id == nil {
		return
	}
	if len(*id) != 64 {
		c := awserr.MinLength(64)
		if len(*id) > 64 {
			c = awserr.MaxLength(64)
		}
		v.Add(*id, true, "keyMaterialId", c)
	} else if !materialIDPattern.MatchString(*id) {
		v.Add(*id, true, "keyMaterialId", awserr.Pattern(materialIDPattern.String()))
	}
}

// openImport checks an import token against key lk and unwraps the
// material with the token's wrapping key.
func (s *Service) openImport(ctx context.Context, lk *kms.Key, token, wrapped []byte, now time.Time) ([]byte, error) {
	id, b, err := s.parseImportToken(token)
	if err != nil || b.KeyID != lk.Doc().ID || b.Account != lk.Doc().Account {
		return nil, invalidImportToken()
	}
	if !now.Before(time.Unix(b.Expires, 0)) {
		return nil, expiredImportToken()
	}
	rec, err := s.store.Get(ctx, kindImportParams, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, expiredImportToken() // purged: only happens once expired
	}
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	var p importParamsDoc
	if err := json.Unmarshal(rec.Data, &p); err != nil || p.KeyID != lk.Doc().ID {
		return nil, invalidImportToken()
	}
	priv, err := s.root.Open(p.SealedPrivate, importKeyAAD(id))
	if err != nil {
		s.log.ErrorContext(ctx, "unseal import wrapping key", "key", lk.ARN(), "err", err)
		return nil, awserr.Internal()
	}
	defer clear(priv)
	material, err := unwrapMaterial(p.Algorithm, priv, wrapped)
	if errors.Is(err, errUnwrap) {
		return nil, awserr.New(awserr.InvalidCiphertext, "")
	}
	if err != nil {
		s.log.ErrorContext(ctx, "import wrapping key", "key", lk.ARN(), "err", err)
		return nil, awserr.Internal()
	}
	return material, nil
}

// importRequest is a validated ImportKeyMaterial request.
type importRequest struct {
	importType  string
	materialID  string
	description *string
	model       string
	validTo     time.Time
	fingerprint []byte
	material    []byte
	now         time.Time
}

// applyImport applies an import to d and returns the material ID.
func (s *Service) applyImport(d *kms.KeyDoc, arn string, r *importRequest) (string, error) {
	match := -1
	for i, m := range d.Materials {
		if m.Fingerprint != nil && subtle.ConstantTimeCompare(m.Fingerprint, r.fingerprint) == 1 {
			match = i
		}
	}
	importType := r.importType
	if importType == "" {
		importType = importExisting
		if len(d.Materials) == 0 {
			importType = importNew
		}
	}
	desc := func(m *kms.MaterialDoc) {
		if r.description != nil {
			m.Description = *r.description
		}
	}
	seal := func(m *kms.MaterialDoc) error {
		sealed, err := s.kms.SealMaterial(d.ID, m.ID, r.material)
		if err != nil {
			return err
		}
		m.Sealed = sealed
		m.Imported = true
		m.ImportState = kms.ImportStateImported
		m.ExpirationModel = r.model
		m.ValidTo = r.validTo
		return nil
	}
	if len(d.Materials) == 0 {
		if r.materialID != "" {
			return "", awserr.Newf(awserr.NotFound, "kms.Key material %s does not exist for key %s.", r.materialID, arn)
		}
		m := kms.MaterialDoc{ID: kms.NewHexID(), State: kms.MaterialCurrent, Fingerprint: r.fingerprint}
		desc(&m)
		if err := seal(&m); err != nil {
			return "", err
		}
		d.Materials = append(d.Materials, m)
		d.CurrentMaterial = m.ID
		d.ExpirationModel, d.ValidTo = m.ExpirationModel, m.ValidTo
		if d.State == kms.StatePendingImport {
			d.State = kms.StateEnabled
		}
		return m.ID, nil
	}
	if importType == importNew {
		if d.Spec != kms.SymmetricDefault {
			return "", incorrectMaterial()
		}
		mid := kms.NewHexID()
		for _, m := range d.Materials {
			if m.State == kms.MaterialPendingRotation {
				return "", awserr.Newf(awserr.KMSInvalidState, "New key material (id: %s) cannot be imported into KMS key %s, because another key material (id: %s) is pending rotation.", mid, arn, m.ID)
			}
		}
		if match >= 0 {
			return "", awserr.Newf(awserr.IncorrectKeyMaterial, "The key material in the request was already imported into this KMS key (id: %s).", d.Materials[match].ID)
		}
		m := kms.MaterialDoc{ID: mid, State: kms.MaterialPendingRotation, Fingerprint: r.fingerprint}
		desc(&m)
		if err := seal(&m); err != nil {
			return "", err
		}
		d.Materials = append(d.Materials, m)
		return mid, nil
	}
	// EXISTING_KEY_MATERIAL: the same bits as a material the key had.
	if match < 0 || (r.materialID != "" && d.Materials[match].ID != r.materialID) {
		return "", incorrectMaterial()
	}
	m := &d.Materials[match]
	desc(m)
	if err := seal(m); err != nil {
		return "", err
	}
	if m.State == kms.MaterialCurrent {
		d.ExpirationModel, d.ValidTo = m.ExpirationModel, m.ValidTo
		if d.State == kms.StatePendingImport {
			d.State = kms.StateEnabled
		}
	}
	return m.ID, nil
}

// DeleteImportedKeyMaterial implements the DeleteImportedKeyMaterial
// operation. It deletes the named material, or the current one; deleting
// the current material puts the key in PendingImport (unless it is pending
// deletion), and a material pending rotation is forgotten entirely. The
// material's identity stays, so that the same bits can be imported again.
// It returns UnsupportedOperationException for keys whose origin is not
// EXTERNAL and NotFoundException for an unknown KeyMaterialId.
func (s *Service) DeleteImportedKeyMaterial(ctx context.Context, in *wire.DeleteImportedKeyMaterialInput) (*wire.DeleteImportedKeyMaterialOutput, error) {
	var v kms.Validator
	checkMaterialID(&v, in.KeyMaterialID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var mid string
	lk, err := s.kms.ManageKey(ctx, in.KeyID, "kms:DeleteImportedKeyMaterial", func(d *kms.KeyDoc, arn string) ([]store.Op, error) {
		if err := s.kms.OwnKey(ctx, d); err != nil {
			return nil, err
		}
		if d.Origin != "EXTERNAL" {
			return nil, kms.OriginUnsupported(d, arn)
		}
		if err := kms.RefuseUpdating(d, arn); err != nil {
			return nil, err
		}
		idx := -1
		for i, m := range d.Materials {
			if in.KeyMaterialID != nil && m.ID == *in.KeyMaterialID || in.KeyMaterialID == nil && m.State == kms.MaterialCurrent {
				idx = i
			}
		}
		if idx < 0 {
			if in.KeyMaterialID != nil {
				return nil, awserr.Newf(awserr.NotFound, "kms.Key material %s does not exist for key %s.", *in.KeyMaterialID, arn)
			}
			return nil, nil // nothing was ever imported
		}
		m := &d.Materials[idx]
		mid = m.ID
		if m.State == kms.MaterialPendingRotation {
			d.Materials = append(d.Materials[:idx], d.Materials[idx+1:]...)
			return nil, nil
		}
		m.Sealed = nil
		m.ImportState = kms.ImportStatePending
		if m.State == kms.MaterialCurrent && d.State != kms.StatePendingDeletion && d.State != kms.StatePendingReplicaDeletion {
			d.State = kms.StatePendingImport
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeleteImportedKeyMaterialOutput{KeyID: lk.ARN(), KeyMaterialID: mid}, nil
}

// ResealAll re-seals, under the current root key, the wrapping private keys
// of pending import parameters (reseal.Records). Import
// tokens already handed to clients are not store records; they stop working
// once the root key that sealed them is retired.
func (s *Service) ResealAll(ctx context.Context, progress func(n int)) (int, error) {
	cur := s.root.CurrentID()
	return reseal.Records(ctx, s.store, s.kms.Locks(), kindImportParams, func(id string, data []byte) ([]byte, bool, error) {
		var d importParamsDoc
		if err := json.Unmarshal(data, &d); err != nil || !reseal.Stale(d.SealedPrivate, cur) {
			return nil, false, err
		}
		var err error
		if d.SealedPrivate, err = reseal.Blob(s.root, d.SealedPrivate, importKeyAAD(id)); err != nil {
			return nil, false, err
		}
		out, err := json.Marshal(&d)
		return out, true, err
	}, nil, progress)
}
