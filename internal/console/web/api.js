// Clients of Trent's APIs, called on this origin exactly as the AWS CLI
// calls them: KMS (AWS JSON 1.1), IAM and STS (query), CloudTrail
// LookupEvents (AWS JSON 1.1). Every request is signed with SigV4 by
// sign(); a failure throws an ApiError naming the AWS exception.
import { sign } from './sigv4.js';

const enc = new TextEncoder();
export const TRAIL_PREFIX = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101';

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
}

export class Client {
  // creds: {accessKeyId, secretAccessKey, sessionToken}; region: the
  // server's Region; onActivity is called on every request, which it
  // stops by returning false (the session has signed out).
  constructor(creds, region, onActivity) {
    this.creds = creds;
    this.region = region;
    this.onActivity = onActivity || (() => {});
  }

  async post(service, headers, body) {
    if (this.onActivity() === false) throw new ApiError('SignedOut', 'The session has signed out.', 0);
    const bytes = enc.encode(body);
    const signed = await sign({ creds: this.creds, region: this.region, service, host: location.host, headers, body: bytes });
    let res;
    try {
      res = await fetch('/', { method: 'POST', headers: signed, body: bytes, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' });
    } catch (e) {
      throw new ApiError('NetworkError', 'The server could not be reached: ' + e.message, 0);
    }
    return res;
  }

  async json(service, target, input) {
    const res = await this.post(service, { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, JSON.stringify(input || {}));
    const text = await res.text();
    let body = {};
    if (text) {
      try { body = JSON.parse(text); } catch { body = { message: text }; }
    }
    if (!res.ok) {
      let code = res.headers.get('x-amzn-errortype') || body.__type || 'HTTP' + res.status;
      code = code.split(':')[0].split('#').pop();
      throw new ApiError(code, body.message || body.Message || '', res.status);
    }
    return body;
  }

  // kms calls TrentService.op.
  kms(op, input) { return this.json('kms', 'TrentService.' + op, input); }

  // trail calls the CloudTrail API.
  trail(op, input) { return this.json('cloudtrail', TRAIL_PREFIX + '.' + op, input); }

  // query calls an IAM or STS action; it returns the XML document's
  // <ActionResult> element.
  async query(service, action, params) {
    const form = new URLSearchParams({ Action: action, Version: service === 'sts' ? '2011-06-15' : '2010-05-08' });
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '') form.append(k, v);
    const res = await this.post(service, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, form.toString());
    const text = await res.text();
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    if (!res.ok) {
      const code = doc.querySelector('Error > Code');
      const msg = doc.querySelector('Error > Message');
      throw new ApiError(code ? code.textContent : 'HTTP' + res.status, msg ? msg.textContent : text.slice(0, 200), res.status);
    }
    return doc.querySelector(action + 'Result') || doc.documentElement;
  }

  iam(action, params) { return this.query('iam', action, params); }
  sts(action, params) { return this.query('sts', action, params); }
}

// text returns the text of the first element named name under el.
export function text(el, name) {
  const x = el && el.getElementsByTagName(name)[0];
  return x ? x.textContent : '';
}

// members returns the <member> children of the element named list.
export function members(el, list) {
  const l = el && el.getElementsByTagName(list)[0];
  return l ? Array.from(l.children).filter((c) => c.tagName === 'member') : [];
}
