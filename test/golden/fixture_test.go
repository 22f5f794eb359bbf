package golden

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/sigv4"
)

const (
	account = "111122223333"
	region  = "us-east-1"
	// adminAKID is the administrator the golden node is bootstrapped with.
	adminAKID = "AKIAGOLDENADMIN00001"
	// message and plaintext are the fixed inputs of derived fixtures.
	message   = "golden message"
	plaintext = "golden plaintext"
)

// rootPolicy is a key policy that gives the account root every permission.
const rootPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`

// keyKinds are the fixture keys cases can name: the CreateKey request of
// each, and what is done to it after creation.
var keyKinds = map[string]struct {
	create map[string]any
	after  func(h *harness, id string) error
}{
	"symmetric":    {create: map[string]any{"Description": "golden symmetric"}},
	"symmetric2":   {create: map[string]any{"Description": "golden second symmetric"}},
	"alias-target": {create: map[string]any{"Description": "golden alias target"}},
	"deletable":    {create: map[string]any{"Description": "golden deletable alias target"}},
	"granted": {create: map[string]any{"Description": "golden granted"},
		after: func(h *harness, id string) error {
			_, err := h.call("CreateGrant", map[string]any{"KeyId": id, "Name": "golden",
				"GranteePrincipal": "arn:aws:iam::111122223333:role/golden", "RetiringPrincipal": "arn:aws:iam::111122223333:role/golden-retirer",
				"Operations": []string{"Decrypt", "Encrypt"}, "Constraints": map[string]any{"EncryptionContextSubset": map[string]string{"purpose": "golden"}}})
			return err
		}},
	"tagged": {create: map[string]any{"Description": "golden tagged",
		"Tags": []map[string]string{{"TagKey": "team", "TagValue": "golden"}, {"TagKey": "env", "TagValue": "test"}}}},
	"disabled": {create: map[string]any{"Description": "golden disabled"},
		after: func(h *harness, id string) error {
			_, err := h.call("DisableKey", map[string]any{"KeyId": id})
			return err
		}},
	"pending-deletion": {create: map[string]any{"Description": "golden pending deletion"},
		after: func(h *harness, id string) error {
			_, err := h.call("ScheduleKeyDeletion", map[string]any{"KeyId": id, "PendingWindowInDays": 7})
			return err
		}},
	"rotating": {create: map[string]any{"Description": "golden rotating"},
		after: func(h *harness, id string) error {
			_, err := h.call("EnableKeyRotation", map[string]any{"KeyId": id, "RotationPeriodInDays": 90})
			return err
		}},
	"external":     {create: map[string]any{"Description": "golden external", "Origin": "EXTERNAL"}},
	"hmac":         {create: map[string]any{"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}},
	"hmac224":      {create: map[string]any{"KeySpec": "HMAC_224", "KeyUsage": "GENERATE_VERIFY_MAC"}},
	"rsa-enc":      {create: map[string]any{"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}},
	"rsa-sign":     {create: map[string]any{"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}},
	"ecc-sign":     {create: map[string]any{"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}},
	"ecc-agree":    {create: map[string]any{"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}},
	"ed25519":      {create: map[string]any{"KeySpec": "ECC_NIST_EDWARDS25519", "KeyUsage": "SIGN_VERIFY"}},
	"mldsa":        {create: map[string]any{"KeySpec": "ML_DSA_44", "KeyUsage": "SIGN_VERIFY"}},
	"mlkem":        {create: map[string]any{"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"}},
	"multi-region": {create: map[string]any{"Description": "golden multi-region", "MultiRegion": true}},
	// multi-region-replicated has a replica in eu-west-1 (a peer that never
	// answers: the replica stays PENDING in the primary's DescribeKey).
	"multi-region-replicated": {create: map[string]any{"Description": "golden multi-region replicated", "MultiRegion": true},
		after: func(h *harness, id string) error {
			_, err := h.call("ReplicateKey", map[string]any{"KeyId": id, "ReplicaRegion": "eu-west-1"})
			return err
		}},
	// no-allow's policy lets the root manage the key but not use it.
	"no-allow": {create: map[string]any{"BypassPolicyLockoutSafetyCheck": true,
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["kms:DescribeKey","kms:PutKeyPolicy","kms:GetKeyPolicy","kms:ScheduleKeyDeletion"],"Resource":"*"}]}`}},
	// explicit-deny's policy allows everything but denies kms:Encrypt.
	"explicit-deny": {create: map[string]any{"BypassPolicyLockoutSafetyCheck": true,
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*"}]}`}},
}

// harness is the golden node's client and the fixtures created so far.
type harness struct {
	endpoint string
	secret   []byte
	client   *http.Client
	// values maps placeholder names to values: shared fixtures live for the
	// whole run, caseValues ({{new...}}) for one case.
	values, caseValues map[string]string
}

func newHarness(endpoint string, secret []byte) *harness {
	return &harness{endpoint: endpoint, secret: secret, client: &http.Client{Timeout: 30 * time.Second},
		values: map[string]string{}, caseValues: map[string]string{}}
}

// known returns the fixture values to replace by placeholders in responses.
func (h *harness) known() map[string]string {
	m := map[string]string{}
	for _, vals := range []map[string]string{h.values, h.caseValues} {
		for name, v := range vals {
			if strings.HasSuffix(name, ".arn") || strings.HasSuffix(name, ".id") {
				m[v] = "{{" + name + "}}"
			}
		}
	}
	return m
}

var placeholderRe = regexp.MustCompile(`\{\{([a-z0-9.-]+)\}\}`)

// expand replaces every {{name}} in s by its value, creating fixtures on
// first use.
func (h *harness) expand(s string) (string, error) {
	var firstErr error
	out := placeholderRe.ReplaceAllStringFunc(s, func(m string) string {
		v, err := h.resolve(m[2 : len(m)-2])
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	return out, firstErr
}

// resolve returns the value of placeholder name.
func (h *harness) resolve(name string) (string, error) {
	if v, ok := h.caseValues[name]; ok {
		return v, nil
	}
	if v, ok := h.values[name]; ok {
		return v, nil
	}
	v, err := h.create(name)
	if err != nil {
		return "", fmt.Errorf("fixture {{%s}}: %w", name, err)
	}
	return v, nil
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func (h *harness) create(name string) (string, error) {
	parts := strings.Split(name, ".")
	switch {
	case name == "account":
		return account, nil
	case name == "region":
		return region, nil
	case name == "message":
		return b64(message), nil
	case name == "plaintext":
		return b64(plaintext), nil
	case name == "digest.sha256":
		d := sha256.Sum256([]byte(message))
		return base64.StdEncoding.EncodeToString(d[:]), nil
	case len(parts) == 2 && parts[0] == "bytes":
		n, err := strconv.Atoi(parts[1])
		if err != nil || n < 0 || n > 1<<20 {
			return "", fmt.Errorf("bad byte count")
		}
		return b64(strings.Repeat("x", n)), nil
	case len(parts) == 3 && (parts[0] == "key" || parts[0] == "new") && (parts[2] == "arn" || parts[2] == "id"):
		vals := h.values
		if parts[0] == "new" {
			vals = h.caseValues
		}
		if err := h.createKey(vals, parts[0]+"."+parts[1], parts[1]); err != nil {
			return "", err
		}
		return vals[name], nil
	case len(parts) == 3 && parts[0] == "alias" && (parts[2] == "name" || parts[2] == "arn"):
		id, err := h.resolve("key." + parts[1] + ".id")
		if err != nil {
			return "", err
		}
		alias := "alias/golden-" + parts[1]
		if _, err := h.call("CreateAlias", map[string]any{"AliasName": alias, "TargetKeyId": id}); err != nil {
			return "", err
		}
		h.values["alias."+parts[1]+".name"] = alias
		h.values["alias."+parts[1]+".arn"] = "arn:aws:kms:" + region + ":" + account + ":" + alias
		return h.values[name], nil
	case len(parts) == 2:
		v, err := h.derive(parts[0], parts[1])
		if err != nil {
			return "", err
		}
		h.values[name] = v
		return v, nil
	}
	return "", fmt.Errorf("unknown placeholder")
}

// createKey creates a key of kind and records it as prefix.arn/prefix.id.
func (h *harness) createKey(vals map[string]string, prefix, kind string) error {
	k, ok := keyKinds[kind]
	if !ok {
		return fmt.Errorf("unknown key kind %q", kind)
	}
	out, err := h.call("CreateKey", k.create)
	if err != nil {
		return err
	}
	md, _ := out["KeyMetadata"].(map[string]any)
	arn, _ := md["Arn"].(string)
	id, _ := md["KeyId"].(string)
	if arn == "" || id == "" {
		return fmt.Errorf("CreateKey answered no Arn/KeyId")
	}
	if k.after != nil {
		if err := k.after(h, id); err != nil {
			return err
		}
	}
	vals[prefix+".arn"], vals[prefix+".id"] = arn, id
	return nil
}

// derive computes the derived fixtures: ciphertexts, signatures, MACs,
// public keys and KEM ciphertexts of a shared fixture key.
func (h *harness) derive(what, kind string) (string, error) {
	id, err := h.resolve("key." + kind + ".id")
	if err != nil {
		return "", err
	}
	var op, member string
	req := map[string]any{"KeyId": id}
	switch what {
	case "ciphertext":
		op, member = "Encrypt", "CiphertextBlob"
		req["Plaintext"] = b64(plaintext)
		if kind == "rsa-enc" {
			req["EncryptionAlgorithm"] = "RSAES_OAEP_SHA_256"
		}
	case "signature":
		op, member = "Sign", "Signature"
		req["Message"], req["MessageType"] = b64(message), "RAW"
		req["SigningAlgorithm"] = map[string]string{"rsa-sign": "RSASSA_PSS_SHA_256", "ecc-sign": "ECDSA_SHA_256",
			"mldsa": "ML_DSA_SHAKE_256", "ed25519": "ED25519_SHA_512"}[kind]
	case "mac":
		op, member = "GenerateMac", "Mac"
		req["Message"], req["MacAlgorithm"] = b64(message), "HMAC_SHA_256"
	case "publickey":
		op, member = "GetPublicKey", "PublicKey"
	case "kem-ciphertext":
		op, member = "Encapsulate", "SharedSecretCiphertextBlob"
		req["EncapsulationAlgorithm"] = "ML_KEM"
	default:
		return "", fmt.Errorf("unknown derived fixture %q", what)
	}
	out, err := h.call(op, req)
	if err != nil {
		return "", err
	}
	v, _ := out[member].(string)
	if v == "" {
		return "", fmt.Errorf("%s answered no %s", op, member)
	}
	return v, nil
}

// call sends op signed by the administrator and returns the decoded
// response, or an error with the exception if the status is not 200.
func (h *harness) call(op string, in any) (map[string]any, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, h.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	sigv4.Sign(req, body, adminAKID, h.secret, "", region, "kms", time.Now())
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", op, resp.StatusCode, data)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}
