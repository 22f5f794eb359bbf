//go:build cgo

package hsm

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// Available reports whether this build can talk to PKCS#11 modules.
const Available = true

// module is one loaded PKCS#11 library, shared by every Token on it.
type module struct {
	ctx      *pkcs11.Ctx
	refs     int
	finalize bool // we called C_Initialize, so we call C_Finalize

	// pins holds, per slot, a hash of the PIN of the last successful
	// C_Login. Login state is shared by the whole process, so a second
	// Token's C_Login answers CKR_USER_ALREADY_LOGGED_IN without checking
	// its PIN; we check it against this hash instead.
	pinsMu sync.Mutex
	pins   map[uint][32]byte
}

var (
	modulesMu sync.Mutex
	modules   = map[string]*module{}
)

func acquireModule(path string) (*module, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m, ok := modules[path]; ok {
		m.refs++
		return m, nil
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s could not be loaded", ErrModule, path)
	}
	m := &module{ctx: ctx, refs: 1, finalize: true, pins: map[uint][32]byte{}}
	if err := ctx.Initialize(); err != nil {
		if !isRV(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			ctx.Destroy()
			return nil, fmt.Errorf("%w: C_Initialize: %v", ErrModule, err)
		}
		m.finalize = false
	}
	modules[path] = m
	return m, nil
}

func releaseModule(path string) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	m, ok := modules[path]
	if !ok {
		return
	}
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules, path)
	if m.finalize {
		m.ctx.Finalize()
	}
	m.ctx.Destroy()
}

func isRV(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

// Token is an open, logged-in PKCS#11 token with a pool of sessions.
// It is safe for concurrent use.
type Token struct {
	cfg  Config
	mod  *module
	slot uint
	info TokenInfo

	mu     sync.RWMutex // held shared by operations, exclusively by Close
	closed bool
	pool   chan pkcs11.SessionHandle
	genMu  sync.Mutex // serialises find-then-create of labelled objects
}

// Open loads cfg.Module, finds the token labelled cfg.TokenLabel, opens a
// pool of read-write sessions and logs in with the user PIN.
//
// Open returns an error wrapping ErrModule if the library cannot be loaded,
// ErrTokenNotFound if no slot has the token, ErrLogin if the PIN is refused,
// and ErrInput for an incomplete Config.
func Open(cfg Config) (*Token, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Sessions == 0 {
		cfg.Sessions = 4
	}
	mod, err := acquireModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	t := &Token{cfg: cfg, mod: mod, pool: make(chan pkcs11.SessionHandle, cfg.Sessions)}
	if err := t.init(); err != nil {
		t.closeSessions()
		releaseModule(cfg.Module)
		return nil, err
	}
	return t, nil
}

func (t *Token) init() error {
	ctx := t.mod.ctx
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("%w: C_GetSlotList: %v", ErrModule, err)
	}
	found := false
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if strings.TrimSpace(ti.Label) == t.cfg.TokenLabel && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
			t.slot, found = s, true
			t.info = TokenInfo{
				Label:        t.cfg.TokenLabel,
				Manufacturer: strings.TrimSpace(ti.ManufacturerID),
				Model:        strings.TrimSpace(ti.Model),
				Serial:       strings.TrimSpace(ti.SerialNumber),
			}
			break
		}
	}
	if !found {
		return fmt.Errorf("%w: no initialised token labelled %q", ErrTokenNotFound, t.cfg.TokenLabel)
	}
	for range t.cfg.Sessions {
		sh, err := t.openSession()
		if err != nil {
			return err
		}
		t.pool <- sh
	}
	return nil
}

func (t *Token) openSession() (pkcs11.SessionHandle, error) {
	sh, err := t.mod.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return 0, fmt.Errorf("%w: C_OpenSession: %v", ErrModule, err)
	}
	pinHash := sha256.Sum256([]byte("trent pkcs11 pin\x00" + t.cfg.PIN))
	err = t.mod.ctx.Login(sh, pkcs11.CKU_USER, t.cfg.PIN)
	if err == nil {
		t.mod.pinsMu.Lock()
		t.mod.pins[t.slot] = pinHash
		t.mod.pinsMu.Unlock()
		return sh, nil
	}
	if isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		t.mod.pinsMu.Lock()
		known, ok := t.mod.pins[t.slot]
		t.mod.pinsMu.Unlock()
		if !ok || subtle.ConstantTimeCompare(known[:], pinHash[:]) == 1 {
			return sh, nil
		}
		t.mod.ctx.CloseSession(sh)
		return 0, fmt.Errorf("%w: token %q refused the PIN", ErrLogin, t.cfg.TokenLabel)
	}
	t.mod.ctx.CloseSession(sh)
	if isRV(err, pkcs11.CKR_PIN_INCORRECT) || isRV(err, pkcs11.CKR_PIN_LOCKED) || isRV(err, pkcs11.CKR_PIN_INVALID) || isRV(err, pkcs11.CKR_PIN_LEN_RANGE) {
		return 0, fmt.Errorf("%w: token %q refused the PIN (%v)", ErrLogin, t.cfg.TokenLabel, rvName(err))
	}
	return 0, fmt.Errorf("%w: C_Login: %v", ErrLogin, rvName(err))
}

// rvName renders a PKCS#11 error without anything the caller passed in.
func rvName(err error) string {
	var e pkcs11.Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "unknown error"
}

func (t *Token) closeSessions() {
	for {
		select {
		case sh := <-t.pool:
			t.mod.ctx.CloseSession(sh)
		default:
			return
		}
	}
}

// Close closes this Token's sessions and releases the module. Operations
// in flight finish first; later calls return ErrClosed. Close is idempotent.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.closeSessions()
	releaseModule(t.cfg.Module)
	return nil
}

// Info describes the token (for health reports).
func (t *Token) Info() TokenInfo { return t.info }

// staleSession reports errors after which a session must be replaced.
func staleSession(err error) bool {
	return isRV(err, pkcs11.CKR_SESSION_HANDLE_INVALID) || isRV(err, pkcs11.CKR_SESSION_CLOSED) ||
		isRV(err, pkcs11.CKR_USER_NOT_LOGGED_IN) || isRV(err, pkcs11.CKR_DEVICE_REMOVED) ||
		isRV(err, pkcs11.CKR_TOKEN_NOT_PRESENT)
}

// do runs fn with a pooled session. If the session turned stale (the token
// was reset, the login lost) it is replaced and fn retried once.
func (t *Token) do(fn func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}
	sh := <-t.pool
	err := fn(t.mod.ctx, sh)
	if err != nil && staleSession(err) {
		t.mod.ctx.CloseSession(sh)
		nsh, oerr := t.openSession()
		if oerr != nil {
			// Keep the pool size constant: return the stale handle; the
			// next call will try to replace it again.
			t.pool <- sh
			return oerr
		}
		sh = nsh
		err = fn(t.mod.ctx, sh)
	}
	t.pool <- sh
	return err
}

func attrBool(a *pkcs11.Attribute) bool { return len(a.Value) > 0 && a.Value[0] != 0 }

func attrUint(a *pkcs11.Attribute) uint {
	switch len(a.Value) {
	case 8:
		return uint(binary.NativeEndian.Uint64(a.Value))
	case 4:
		return uint(binary.NativeEndian.Uint32(a.Value))
	case 1:
		return uint(a.Value[0])
	}
	return 0
}

func checkLabel(label string) error {
	if label == "" || len(label) > 255 {
		return fmt.Errorf("%w: a label has 1 to 255 bytes", ErrInput)
	}
	return nil
}

// findObjects returns the handles of objects matching tmpl.
func findObjects(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := ctx.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	var all []pkcs11.ObjectHandle
	for {
		hs, _, err := ctx.FindObjects(sh, 64)
		if err != nil {
			ctx.FindObjectsFinal(sh)
			return nil, err
		}
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	return all, ctx.FindObjectsFinal(sh)
}

func aesKeyTemplate() []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
	}
}

// FindKey returns the AES key labelled label. It returns an error wrapping
// ErrKeyNotFound if there is none.
func (t *Token) FindKey(label string) (Key, error) {
	if err := checkLabel(label); err != nil {
		return Key{}, err
	}
	var k Key
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		hs, err := findObjects(ctx, sh, append(aesKeyTemplate(), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)))
		if err != nil {
			return err
		}
		if len(hs) == 0 {
			return fmt.Errorf("%w: %q", ErrKeyNotFound, label)
		}
		k = Key{Label: label, handle: uint(hs[0])}
		return nil
	})
	return k, wrapOp("find key", err)
}

// ListKeys returns the AES keys whose label starts with prefix.
func (t *Token) ListKeys(prefix string) ([]Key, error) {
	var keys []Key
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		keys = keys[:0]
		hs, err := findObjects(ctx, sh, aesKeyTemplate())
		if err != nil {
			return err
		}
		for _, h := range hs {
			as, err := ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)})
			if err != nil {
				continue // destroyed meanwhile
			}
			if l := string(as[0].Value); strings.HasPrefix(l, prefix) {
				keys = append(keys, Key{Label: l, handle: uint(h)})
			}
		}
		return nil
	})
	return keys, wrapOp("list keys", err)
}

// GenerateAESKey generates an AES-256 key labelled label inside the token:
// a token object, private, sensitive and not extractable, usable only to
// encrypt and decrypt. It returns an error wrapping ErrKeyExists if a key
// with that label exists (checked within this process; two processes racing
// on one label can both succeed, so give each key a unique label).
func (t *Token) GenerateAESKey(label string) (Key, error) {
	if err := checkLabel(label); err != nil {
		return Key{}, err
	}
	t.genMu.Lock()
	defer t.genMu.Unlock()
	if _, err := t.FindKey(label); err == nil {
		return Key{}, fmt.Errorf("%w: %q", ErrKeyExists, label)
	} else if !errors.Is(err, ErrKeyNotFound) {
		return Key{}, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return Key{}, err
	}
	var k Key
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		tmpl := append(aesKeyTemplate(),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		)
		h, err := ctx.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, tmpl)
		if err != nil {
			return err
		}
		k = Key{Label: label, handle: uint(h)}
		return nil
	})
	return k, wrapOp("generate key", err)
}

// DestroyKey deletes k from the token. Everything encrypted under it is
// lost. It returns an error wrapping ErrKeyNotFound if k no longer exists.
func (t *Token) DestroyKey(k Key) error {
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		return ctx.DestroyObject(sh, pkcs11.ObjectHandle(k.handle))
	})
	return wrapOp("destroy key", err)
}

// KeyAttributes reads k's security attributes from the token, and asks for
// its value to record whether the token refuses (Attributes.ValueReadable).
// A value the token does hand out is wiped at once and never returned.
func (t *Token) KeyAttributes(k Key) (Attributes, error) {
	var a Attributes
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		h := pkcs11.ObjectHandle(k.handle)
		as, err := ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, nil),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, nil),
		})
		if err != nil {
			return err
		}
		a = Attributes{
			Label: string(as[0].Value), Class: attrUint(as[1]), KeyType: attrUint(as[2]),
			ValueLen: attrUint(as[3]), Token: attrBool(as[4]), Private: attrBool(as[5]),
			Sensitive: attrBool(as[6]), Extractable: attrBool(as[7]),
			AlwaysSensitive: attrBool(as[8]), NeverExtractable: attrBool(as[9]),
			Encrypt: attrBool(as[10]), Decrypt: attrBool(as[11]),
		}
		v, err := ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err == nil && len(v) == 1 && len(v[0].Value) > 0 {
			a.ValueReadable = true
			clear(v[0].Value)
		}
		return nil
	})
	return a, wrapOp("read key attributes", err)
}

func checkIV(iv []byte) error {
	if len(iv) != 12 && len(iv) != 16 {
		return fmt.Errorf("%w: the AES-GCM IV has 12 or 16 bytes", ErrInput)
	}
	return nil
}

// Encrypt encrypts plaintext with AES-256-GCM under k inside the token,
// with the given IV (12 or 16 bytes; the caller guarantees uniqueness, e.g.
// random) and additional authenticated data, and returns ciphertext||tag
// (TagSize bytes of tag). It returns an error wrapping ErrKeyNotFound if k
// no longer exists.
func (t *Token) Encrypt(k Key, iv, plaintext, aad []byte) ([]byte, error) {
	if err := checkIV(iv); err != nil {
		return nil, err
	}
	var out []byte
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		params := pkcs11.NewGCMParams(iv, aad, TagSize*8)
		defer params.Free()
		if err := ctx.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, pkcs11.ObjectHandle(k.handle)); err != nil {
			return err
		}
		ct, err := ctx.Encrypt(sh, plaintext)
		if err != nil {
			return err
		}
		out = ct
		return nil
	})
	if err != nil {
		return nil, wrapOp("encrypt", err)
	}
	if len(out) != len(plaintext)+TagSize {
		return nil, fmt.Errorf("hsm: encrypt: token returned %d bytes for %d of plaintext", len(out), len(plaintext))
	}
	return out, nil
}

// Decrypt reverses Encrypt: sealed is ciphertext||tag. It returns an error
// wrapping ErrDecrypt if authentication fails, ErrKeyNotFound if k no
// longer exists.
func (t *Token) Decrypt(k Key, iv, sealed, aad []byte) ([]byte, error) {
	if err := checkIV(iv); err != nil {
		return nil, err
	}
	if len(sealed) < TagSize {
		return nil, fmt.Errorf("%w: ciphertext shorter than the tag", ErrDecrypt)
	}
	var out []byte
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		params := pkcs11.NewGCMParams(iv, aad, TagSize*8)
		defer params.Free()
		if err := ctx.DecryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, pkcs11.ObjectHandle(k.handle)); err != nil {
			return err
		}
		pt, err := ctx.Decrypt(sh, sealed)
		if err != nil {
			if staleSession(err) {
				return err
			}
			return fmt.Errorf("%w (%s)", ErrDecrypt, rvName(err))
		}
		out = pt
		return nil
	})
	if err != nil {
		return nil, wrapOp("decrypt", err)
	}
	return out, nil
}

// Random returns n bytes from the token's random number generator
// (C_GenerateRandom). n must be 1..1024.
func (t *Token) Random(n int) ([]byte, error) {
	if n < 1 || n > 1024 {
		return nil, fmt.Errorf("%w: random length must be 1..1024", ErrInput)
	}
	var out []byte
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		b, err := ctx.GenerateRandom(sh, n)
		out = b
		return err
	})
	if err == nil && len(out) != n {
		err = fmt.Errorf("hsm: token returned %d random bytes, want %d", len(out), n)
	}
	return out, wrapOp("generate random", err)
}

const dataApplication = "trent"

func dataTemplate(label string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, dataApplication),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
}

// PutData stores value in a private token data object labelled label,
// replacing its previous value. Values are small, non-secret bookkeeping
// (which root key is current); they are private objects all the same.
//
// Tokens may make CKA_VALUE read-only (SoftHSM2 does), so PutData creates a
// new object carrying a sequence number and then destroys the old ones; a
// crash in between leaves both, and GetData picks the highest sequence.
func (t *Token) PutData(label string, value []byte) error {
	if err := checkLabel(label); err != nil {
		return err
	}
	t.genMu.Lock()
	defer t.genMu.Unlock()
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		hs, seq, _, err := readData(ctx, sh, label)
		if err != nil {
			return err
		}
		stored := binary.BigEndian.AppendUint64(nil, seq+1)
		stored = append(stored, value...)
		if _, err := ctx.CreateObject(sh, append(dataTemplate(label),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, stored))); err != nil {
			return err
		}
		for _, h := range hs {
			if err := ctx.DestroyObject(sh, h); err != nil && !isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) {
				return err
			}
		}
		return nil
	})
	return wrapOp("put data", err)
}

// readData returns the handles of the data objects labelled label and the
// highest sequence number among them with its value.
func readData(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, label string) (hs []pkcs11.ObjectHandle, seq uint64, value []byte, err error) {
	hs, err = findObjects(ctx, sh, dataTemplate(label))
	if err != nil {
		return nil, 0, nil, err
	}
	found := false
	for _, h := range hs {
		as, err := ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil || len(as[0].Value) < 8 {
			continue
		}
		if s := binary.BigEndian.Uint64(as[0].Value); !found || s > seq {
			seq, value, found = s, as[0].Value[8:], true
		}
	}
	if !found {
		value = nil
	}
	return hs, seq, value, nil
}

// GetData returns the value of the data object labelled label, or an error
// wrapping ErrKeyNotFound if there is none.
func (t *Token) GetData(label string) ([]byte, error) {
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	var out []byte
	err := t.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		_, _, v, err := readData(ctx, sh, label)
		if err != nil {
			return err
		}
		if v == nil {
			return fmt.Errorf("%w: data object %q", ErrKeyNotFound, label)
		}
		out = v
		return nil
	})
	return out, wrapOp("get data", err)
}

// wrapOp maps PKCS#11 return values onto this package's sentinels.
func wrapOp(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrKeyNotFound, ErrKeyExists, ErrDecrypt, ErrClosed, ErrInput, ErrLogin, ErrModule} {
		if errors.Is(err, s) {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
	}
	if isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) || isRV(err, pkcs11.CKR_KEY_HANDLE_INVALID) {
		return fmt.Errorf("hsm: %s: %w (%s)", op, ErrKeyNotFound, rvName(err))
	}
	return fmt.Errorf("hsm: %s: %s", op, rvName(err))
}
