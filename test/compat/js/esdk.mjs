// Compat checks with the AWS Encryption SDK for JavaScript (@aws-crypto/client-node).
import { randomBytes } from 'node:crypto'
import { KMSClient, CreateKeyCommand } from '@aws-sdk/client-kms'
import { KmsKeyringNode, buildClient, CommitmentPolicy, getClient, KMS } from '@aws-crypto/client-node'
import { clientConfig, checker, assert } from './common.mjs'

const check = checker('encryption-sdk-js')
const kms = new KMSClient(clientConfig)
const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
// The keyring asks clientProvider for a client per region; every one gets
// the explicit endpoint and credentials.
const clientProvider = getClient(KMS, { endpoint: clientConfig.endpoint, credentials: clientConfig.credentials, maxAttempts: 1 })

const keys = []
await check('create three symmetric keys', async () => {
  for (let i = 0; i < 3; i++) {
    const k = await kms.send(new CreateKeyCommand({ Description: `compat esdk ${i}` }))
    keys.push(k.KeyMetadata.Arn)
  }
})
if (keys.length !== 3) process.exit(1)
const [generator, second, stranger] = keys

const plaintext = randomBytes(48 * 1024)
const context = { purpose: 'compat', stage: 'test' }
let result

await check('encrypt 48 KiB with a KMS keyring of two keys (generator + one more)', async () => {
  const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: generator, keyIds: [second] })
  result = await encrypt(keyring, plaintext, { encryptionContext: context, frameLength: 4096 })
  const edks = result.messageHeader.encryptedDataKeys
  assert(edks.length === 2, `message has ${edks.length} encrypted data keys, want 2`)
  const ids = edks.map(e => e.providerInfo).sort()
  assert(JSON.stringify(ids) === JSON.stringify([generator, second].sort()), `providerInfo ${ids}`)
})

await check('decrypt with the full keyring; plaintext and context match', async () => {
  const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: generator, keyIds: [second] })
  const { plaintext: out, messageHeader } = await decrypt(keyring, result.result)
  assert(Buffer.from(out).equals(plaintext), 'plaintext differs')
  for (const [k, v] of Object.entries(context)) {
    assert(messageHeader.encryptionContext[k] === v, `context ${k} lost`)
  }
})

await check('decrypt with a keyring holding only the second key', async () => {
  const keyring = new KmsKeyringNode({ clientProvider, keyIds: [second] })
  const { plaintext: out } = await decrypt(keyring, result.result)
  assert(Buffer.from(out).equals(plaintext), 'plaintext differs')
})

await check('decrypt with a keyring that lacks both keys fails', async () => {
  const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: stranger })
  let ok = false
  try {
    await decrypt(keyring, result.result)
    ok = true
  } catch (e) {
    assert(/unencryptedDataKey has not been set|unencrypted data key|No decrypting|Unable to decrypt/i.test(e.message), `unexpected error: ${e.message}`)
  }
  assert(!ok, 'decrypt succeeded with the wrong keyring')
})

process.exit(check.failed() ? 1 : 0)
