package wire

// AuditParameters methods describe hot-path requests for the audit trail
// (CloudTrail requestParameters) without re-decoding the request body. They
// follow audit.SafeParameters' rules: lower-camel member names, never a
// plaintext, ciphertext, grant token or any other blob.

// symmetricDefault is the EncryptionAlgorithm of a request that names none.
const symmetricDefault = "SYMMETRIC_DEFAULT"

func auditKey(m map[string]any, member string, v *string) {
	if v != nil {
		m[member] = *v
	}
}

func auditContext(m map[string]any, member string, ec map[string]string) {
	if ec != nil {
		m[member] = ec
	}
}

// cryptParams is the requestParameters of Encrypt and Decrypt: CloudTrail
// always names the encryption algorithm, SYMMETRIC_DEFAULT when omitted.
func cryptParams(keyID *string, ec map[string]string, alg *string, dryRun *bool) map[string]any {
	m := make(map[string]any, 3)
	auditKey(m, "keyId", keyID)
	auditContext(m, "encryptionContext", ec)
	a := symmetricDefault
	if alg != nil {
		a = *alg
	}
	m["encryptionAlgorithm"] = a
	if dryRun != nil {
		m["dryRun"] = *dryRun
	}
	return m
}

// AuditParameters implements the server's audit-parameters interface.
func (in *EncryptInput) AuditParameters() map[string]any {
	return cryptParams(in.KeyID, in.EncryptionContext, in.EncryptionAlgorithm, in.DryRun)
}

// AuditParameters implements the server's audit-parameters interface.
func (in *DecryptInput) AuditParameters() map[string]any {
	return cryptParams(in.KeyID, in.EncryptionContext, in.EncryptionAlgorithm, in.DryRun)
}

// AuditParameters implements the server's audit-parameters interface.
func (in *GenerateDataKeyInput) AuditParameters() map[string]any {
	m := make(map[string]any, 4)
	auditKey(m, "keyId", in.KeyID)
	auditContext(m, "encryptionContext", in.EncryptionContext)
	auditKey(m, "keySpec", in.KeySpec)
	if in.NumberOfBytes != nil {
		m["numberOfBytes"] = *in.NumberOfBytes
	}
	if in.DryRun != nil {
		m["dryRun"] = *in.DryRun
	}
	return m
}

// AuditParameters implements the server's audit-parameters interface.
func (in *ReEncryptInput) AuditParameters() map[string]any {
	m := make(map[string]any, 6)
	auditKey(m, "sourceKeyId", in.SourceKeyID)
	auditKey(m, "destinationKeyId", in.DestinationKeyID)
	auditContext(m, "sourceEncryptionContext", in.SourceEncryptionContext)
	auditContext(m, "destinationEncryptionContext", in.DestinationEncryptionContext)
	src, dst := symmetricDefault, symmetricDefault
	if in.SourceEncryptionAlgorithm != nil {
		src = *in.SourceEncryptionAlgorithm
	}
	if in.DestinationEncryptionAlgorithm != nil {
		dst = *in.DestinationEncryptionAlgorithm
	}
	m["sourceEncryptionAlgorithm"], m["destinationEncryptionAlgorithm"] = src, dst
	return m
}

// AuditParameters implements the server's audit-parameters interface.
func (in *KeyIDInput) AuditParameters() map[string]any {
	m := make(map[string]any, 1)
	auditKey(m, "keyId", in.KeyID)
	return m
}
