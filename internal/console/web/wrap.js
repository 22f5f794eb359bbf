// Wrapping of key material for ImportKeyMaterial with Web Crypto:
// RSAES_OAEP_SHA_256 (material up to the RSA key's OAEP limit) and
// RSA_AES_KEY_WRAP_SHA_256 (an ephemeral AES-256 key wrapped with
// RSA-OAEP-SHA-256, then the material with AES key wrap with padding,
// RFC 5649, which Web Crypto lacks: it is built here on single-block
// AES encryptions).

async function aesBlock(key, block) {
  // AES-CBC of one block under a zero IV is the block cipher itself.
  const ct = await crypto.subtle.encrypt({ name: 'AES-CBC', iv: new Uint8Array(16) }, key, block);
  return new Uint8Array(ct, 0, 16);
}

// kwp is AES-KWP (RFC 5649) of data under the AES key kek (CryptoKey).
export async function kwp(kek, data) {
  const n = Math.ceil(data.length / 8);
  const padded = new Uint8Array(n * 8);
  padded.set(data);
  const aiv = new Uint8Array(8);
  aiv.set([0xa6, 0x59, 0x59, 0xa6]);
  new DataView(aiv.buffer).setUint32(4, data.length);
  if (n === 1) {
    const b = new Uint8Array(16);
    b.set(aiv); b.set(padded, 8);
    return aesBlock(kek, b);
  }
  let a = aiv;
  const r = [];
  for (let i = 0; i < n; i++) r.push(padded.slice(i * 8, i * 8 + 8));
  for (let j = 0; j <= 5; j++) {
    for (let i = 0; i < n; i++) {
      const b = new Uint8Array(16);
      b.set(a); b.set(r[i], 8);
      const e = await aesBlock(kek, b);
      const t = BigInt(n * j + i + 1);
      a = e.slice(0, 8);
      const dv = new DataView(a.buffer);
      dv.setBigUint64(0, dv.getBigUint64(0) ^ t);
      r[i] = e.slice(8, 16);
    }
  }
  const out = new Uint8Array(8 + n * 8);
  out.set(a);
  r.forEach((x, i) => out.set(x, 8 + i * 8));
  return out;
}

async function oaep(spki, data) {
  const pub = await crypto.subtle.importKey('spki', spki, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, pub, data));
}

// wrapForImport wraps material under the public key (DER SPKI) that
// GetParametersForImport returned.
export async function wrapForImport(alg, spki, material) {
  if (alg === 'RSAES_OAEP_SHA_256') return oaep(spki, material);
  if (alg !== 'RSA_AES_KEY_WRAP_SHA_256') throw new Error('unsupported wrapping algorithm ' + alg);
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const kek = await crypto.subtle.importKey('raw', raw, { name: 'AES-CBC' }, false, ['encrypt']);
  const wrappedKey = await oaep(spki, raw);
  raw.fill(0);
  const wrapped = await kwp(kek, material);
  const out = new Uint8Array(wrappedKey.length + wrapped.length);
  out.set(wrappedKey);
  out.set(wrapped, wrappedKey.length);
  return out;
}
