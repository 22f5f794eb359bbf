// Compat checks with the AWS SDK for JavaScript v3 (@aws-sdk/client-kms).
import { randomBytes, randomUUID } from 'node:crypto'
import {
  KMSClient, CreateKeyCommand, EncryptCommand, DecryptCommand, GenerateDataKeyCommand,
  DescribeKeyCommand, CreateAliasCommand, TagResourceCommand, ListResourceTagsCommand,
  GenerateRandomCommand, SignCommand, VerifyCommand, GetPublicKeyCommand,
  GenerateMacCommand, VerifyMacCommand, paginateListKeys, DisableKeyCommand,
} from '@aws-sdk/client-kms'
import { clientConfig, checker, assert, expectError } from './common.mjs'

const kms = new KMSClient(clientConfig)
const check = checker('js-sdk-v3')
const ctx = { purpose: 'compat', client: 'js-sdk-v3' }
let arn

await check('CreateKey returns a key ARN', async () => {
  const out = await kms.send(new CreateKeyCommand({ Description: 'compat js', Tags: [{ TagKey: 'team', TagValue: 'compat' }] }))
  arn = out.KeyMetadata.Arn
  assert(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/.test(arn), `bad ARN ${arn}`)
  assert(out.KeyMetadata.CreationDate instanceof Date && !isNaN(out.KeyMetadata.CreationDate), 'CreationDate is not a date')
})
if (!arn) process.exit(1)

await check('Encrypt/Decrypt with an encryption context; KeyId is the ARN', async () => {
  const plain = randomBytes(4096)
  const ct = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: plain, EncryptionContext: ctx }))
  assert(ct.KeyId === arn, `Encrypt KeyId ${ct.KeyId}`)
  const out = await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob, EncryptionContext: ctx }))
  assert(Buffer.from(out.Plaintext).equals(plain), 'plaintext differs')
  assert(out.KeyId === arn, `Decrypt KeyId ${out.KeyId}`)
  await expectError(() => kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob, EncryptionContext: { purpose: 'x' } })), 'InvalidCiphertextException')
})

await check('GenerateDataKey NumberOfBytes=32 (as the Encryption SDK sends it)', async () => {
  const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: arn, NumberOfBytes: 32, EncryptionContext: { 'aws-crypto-public-key': 'AAAA' } }))
  assert(dk.Plaintext.length === 32, `data key is ${dk.Plaintext.length} bytes`)
  const out = await kms.send(new DecryptCommand({ KeyId: arn, CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { 'aws-crypto-public-key': 'AAAA' } }))
  assert(Buffer.from(out.Plaintext).equals(Buffer.from(dk.Plaintext)), 'data key differs')
})

await check('CreateAlias, DescribeKey by alias, tags, ListKeys paginator', async () => {
  const alias = `alias/compat-js-${randomUUID().slice(0, 8)}`
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: arn }))
  const d = await kms.send(new DescribeKeyCommand({ KeyId: alias }))
  assert(d.KeyMetadata.Arn === arn, `DescribeKey by alias gave ${d.KeyMetadata.Arn}`)
  await kms.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'env', TagValue: 'test' }] }))
  const tags = await kms.send(new ListResourceTagsCommand({ KeyId: arn }))
  const got = Object.fromEntries(tags.Tags.map(t => [t.TagKey, t.TagValue]))
  assert(got.team === 'compat' && got.env === 'test', `tags ${JSON.stringify(got)}`)
  const ids = []
  for await (const page of paginateListKeys({ client: kms, pageSize: 1 }, {})) {
    assert(page.Keys.length <= 1, `page of ${page.Keys.length} keys with Limit 1`)
    ids.push(...page.Keys.map(k => k.KeyArn))
    if (ids.length > 10000) throw new Error('paginator does not end')
  }
  assert(ids.includes(arn), 'ListKeys did not list the new key')
})

await check('GenerateRandom 64 bytes', async () => {
  const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }))
  assert(r.Plaintext.length === 64, `got ${r.Plaintext.length} bytes`)
})

await check('ECC_NIST_P384 Sign/Verify and GetPublicKey', async () => {
  const k = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' }))
  const id = k.KeyMetadata.KeyId
  const msg = Buffer.from('js compat')
  const s = await kms.send(new SignCommand({ KeyId: id, Message: msg, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_384' }))
  const v = await kms.send(new VerifyCommand({ KeyId: id, Message: msg, MessageType: 'RAW', Signature: s.Signature, SigningAlgorithm: 'ECDSA_SHA_384' }))
  assert(v.SignatureValid === true, 'signature not valid')
  const pub = await kms.send(new GetPublicKeyCommand({ KeyId: id }))
  const { createPublicKey, verify } = await import('node:crypto')
  const key = createPublicKey({ key: Buffer.from(pub.PublicKey), format: 'der', type: 'spki' })
  assert(verify('sha384', msg, key, Buffer.from(s.Signature)), 'signature does not verify locally with the public key')
})

await check('HMAC_256 GenerateMac/VerifyMac', async () => {
  const k = await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))
  const id = k.KeyMetadata.KeyId
  const m = await kms.send(new GenerateMacCommand({ KeyId: id, Message: Buffer.from('mac me'), MacAlgorithm: 'HMAC_SHA_256' }))
  assert(m.Mac.length === 32, `MAC is ${m.Mac.length} bytes`)
  const v = await kms.send(new VerifyMacCommand({ KeyId: id, Message: Buffer.from('mac me'), MacAlgorithm: 'HMAC_SHA_256', Mac: m.Mac }))
  assert(v.MacValid === true, 'MAC not valid')
  await expectError(() => kms.send(new VerifyMacCommand({ KeyId: id, Message: Buffer.from('other'), MacAlgorithm: 'HMAC_SHA_256', Mac: m.Mac })), 'KMSInvalidMacException')
})

await check('errors: NotFoundException and DisabledException are typed', async () => {
  await expectError(() => kms.send(new DescribeKeyCommand({ KeyId: randomUUID() })), 'NotFoundException')
  const k = await kms.send(new CreateKeyCommand({}))
  await kms.send(new DisableKeyCommand({ KeyId: k.KeyMetadata.KeyId }))
  await expectError(() => kms.send(new EncryptCommand({ KeyId: k.KeyMetadata.KeyId, Plaintext: Buffer.from('x') })), 'DisabledException')
})

process.exit(check.failed() ? 1 : 0)
