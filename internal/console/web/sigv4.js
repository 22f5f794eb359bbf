// AWS Signature Version 4 with Web Crypto (crypto.subtle). Only what the
// console sends: POST to "/" of this origin with a body, no query string.
const enc = new TextEncoder();

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function sha256(data) {
  return crypto.subtle.digest('SHA-256', typeof data === 'string' ? enc.encode(data) : data);
}

async function hmac(key, data) {
  const k = await crypto.subtle.importKey('raw', typeof key === 'string' ? enc.encode(key) : key,
    { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, enc.encode(data));
}

// amzDate formats d as 20060102T150405Z.
export function amzDate(d) {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

// sign returns the headers to send with a POST of body (Uint8Array) to
// path on host, for service and region, signed with creds
// ({accessKeyId, secretAccessKey, sessionToken}). headers are the
// request's own headers (lower-case names); all of them are signed.
export async function sign({ creds, region, service, host, path = '/', headers, body, now = new Date() }) {
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const all = { ...headers, host, 'x-amz-date': date };
  if (creds.sessionToken) all['x-amz-security-token'] = creds.sessionToken;
  const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
  const canonHeaders = names.map((n) => n + ':' + String(all[n]).trim().replace(/\s+/g, ' ') + '\n').join('');
  const signed = names.join(';');
  const payload = hex(await sha256(body));
  const canon = ['POST', path, '', canonHeaders, signed, payload].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, hex(await sha256(canon))].join('\n');
  let k = await hmac('AWS4' + creds.secretAccessKey, day);
  k = await hmac(k, region);
  k = await hmac(k, service);
  k = await hmac(k, 'aws4_request');
  const sig = hex(await hmac(k, toSign));
  const out = { ...all };
  delete out.host; // the browser sends it
  out.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${sig}`;
  return out;
}
