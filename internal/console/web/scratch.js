// Scratchpad: encrypt and decrypt text or a file with an encryption
// context, sign and verify.
import { h, field, select, errorBox, note, clear, b64, unb64, onSubmit, parsePairs } from './ui.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });

export async function scratchPage(session) {
  const c = session.client;
  const key = h('input', { name: 'KeyId', placeholder: 'alias/app or key ID', spellcheck: 'false', id: 'scratch-key' });
  const ctx = h('textarea', { name: 'EncryptionContext', rows: 2, placeholder: 'purpose=test', id: 'scratch-context' });
  const plain = h('textarea', { name: 'Plaintext', rows: 4, id: 'scratch-plaintext' });
  const file = h('input', { type: 'file', name: 'file', id: 'scratch-file' });
  const cipher = h('textarea', { name: 'CiphertextBlob', rows: 4, id: 'scratch-ciphertext', spellcheck: 'false' });
  const out = h('div', { 'aria-live': 'polite', id: 'scratch-out' });
  let download = null;

  async function input() {
    if (file.files[0]) return new Uint8Array(await file.files[0].arrayBuffer());
    return enc.encode(plain.value);
  }
  function context() {
    const o = parsePairs(ctx.value);
    return Object.keys(o).length ? o : undefined;
  }
  const encryptForm = onSubmit(h('form', { 'aria-label': 'Encrypt', id: 'encrypt-form' },
    h('div.field.wide', field('Plaintext', plain)), field('or a file', file),
    h('button', { type: 'submit', id: 'encrypt-btn' }, 'Encrypt')), out, async () => {
    const r = await c.kms('Encrypt', { KeyId: key.value.trim(), Plaintext: b64(await input()), EncryptionContext: context() });
    cipher.value = r.CiphertextBlob;
    return note('Encrypted under ' + r.KeyId + '.');
  });
  const decryptForm = onSubmit(h('form', { 'aria-label': 'Decrypt', id: 'decrypt-form' },
    h('div.field.wide', field('Ciphertext (base64)', cipher)),
    h('button', { type: 'submit', id: 'decrypt-btn' }, 'Decrypt')), out, async () => {
    const r = await c.kms('Decrypt', { CiphertextBlob: cipher.value.trim(), EncryptionContext: context(), KeyId: key.value.trim() || undefined });
    const bytes = unb64(r.Plaintext);
    plain.value = dec.decode(bytes);
    if (download) URL.revokeObjectURL(download);
    download = URL.createObjectURL(new Blob([bytes]));
    return h('div', note('Decrypted with ' + r.KeyId + '.'), h('a', { href: download, download: 'plaintext.bin' }, 'Save the plaintext as a file'));
  });

  // Sign and verify.
  const skey = h('input', { name: 'SignKeyId', placeholder: 'alias/signer or key ID', spellcheck: 'false', id: 'sign-key' });
  const alg = select('SigningAlgorithm', [], '');
  alg.id = 'sign-alg';
  const msg = h('textarea', { name: 'Message', rows: 3, id: 'sign-message' });
  const mtype = select('MessageType', ['RAW', 'DIGEST', 'EXTERNAL_MU'], 'RAW');
  const sig = h('textarea', { name: 'Signature', rows: 3, id: 'sign-signature', spellcheck: 'false' });
  const sout = h('div', { 'aria-live': 'polite', id: 'sign-out' });
  skey.addEventListener('change', async () => {
    clear(alg);
    try {
      const d = await c.kms('DescribeKey', { KeyId: skey.value.trim() });
      alg.append(...(d.KeyMetadata.SigningAlgorithms || []).map((a) => h('option', { value: a }, a)));
    } catch (err) {
      clear(sout).append(errorBox(err));
    }
  });
  const msgBytes = () => (mtype.value === 'RAW' ? enc.encode(msg.value) : unb64(msg.value.trim()));
  const signForm = h('form', { 'aria-label': 'Sign and verify', id: 'sign-form' },
    field('Signing key', skey), field('Signing algorithm', alg), field('Message type', mtype, 'DIGEST and EXTERNAL_MU take base64.'),
    h('div.field.wide', field('Message', msg)), h('div.field.wide', field('Signature (base64)', sig)),
    h('button', { type: 'submit', id: 'sign-btn' }, 'Sign'),
    h('button.secondary', { type: 'button', id: 'verify-btn' }, 'Verify'));
  onSubmit(signForm, sout, async () => {
    const r = await c.kms('Sign', { KeyId: skey.value.trim(), Message: b64(msgBytes()), MessageType: mtype.value, SigningAlgorithm: alg.value });
    sig.value = r.Signature;
    return note('Signed with ' + r.SigningAlgorithm + '.');
  });
  signForm.querySelector('#verify-btn').addEventListener('click', async () => {
    clear(sout);
    try {
      const r = await c.kms('Verify', { KeyId: skey.value.trim(), Message: b64(msgBytes()), MessageType: mtype.value, SigningAlgorithm: alg.value, Signature: sig.value.trim() });
      sout.append(r.SignatureValid ? h('div.note#verify-result', { role: 'status' }, 'The signature is valid.') : errorBox({ code: 'Invalid', message: 'The signature is not valid.' }));
    } catch (err) {
      sout.append(errorBox(err));
    }
  });

  return [h('h1', 'Scratchpad'),
    h('p', 'Encrypt, decrypt, sign and verify with your keys. Nothing is stored; every call is authorized and recorded like a CLI call.'),
    h('h2', 'Encrypt and decrypt'), h('div.panel', field('Key', key), h('div.field.wide', field('Encryption context (key=value, one a line)', ctx))),
    encryptForm, decryptForm, out,
    h('h2', 'Sign and verify'), signForm, sout];
}
