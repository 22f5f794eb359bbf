// Keys: the list (paged with ListKeys, describing only what it shows),
// a key's page, and key creation with import of key material.
import { h, field, select, table, errorBox, note, clear, fmtTime, b64, unb64, reload, action, onSubmit, pool,
  validatePolicy, pretty, diffView, parsePairs } from './ui.js';
import { wrapForImport } from './wrap.js';

export const SPECS = {
  SYMMETRIC_DEFAULT: ['ENCRYPT_DECRYPT'],
  HMAC_224: ['GENERATE_VERIFY_MAC'], HMAC_256: ['GENERATE_VERIFY_MAC'], HMAC_384: ['GENERATE_VERIFY_MAC'], HMAC_512: ['GENERATE_VERIFY_MAC'],
  RSA_2048: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], RSA_3072: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], RSA_4096: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  ECC_NIST_P256: ['SIGN_VERIFY', 'KEY_AGREEMENT'], ECC_NIST_P384: ['SIGN_VERIFY', 'KEY_AGREEMENT'], ECC_NIST_P521: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_SECG_P256K1: ['SIGN_VERIFY'], ECC_NIST_EDWARDS25519: ['SIGN_VERIFY'],
  ML_DSA_44: ['SIGN_VERIFY'], ML_DSA_65: ['SIGN_VERIFY'], ML_DSA_87: ['SIGN_VERIFY'],
  ML_KEM_512: ['ENCAPSULATE_DECAPSULATE'], ML_KEM_768: ['ENCAPSULATE_DECAPSULATE'], ML_KEM_1024: ['ENCAPSULATE_DECAPSULATE'],
  SM2: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'KEY_AGREEMENT'],
};
const STATES = ['', 'Enabled', 'Disabled', 'PendingDeletion', 'PendingImport', 'Unavailable', 'Creating'];
const USAGES = ['', 'ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT', 'ENCAPSULATE_DECAPSULATE'];
const SCAN_BUDGET = 1000; // keys examined per step when a filter needs DescribeKey
const SCAN_MS = 2000; // and a step stops after this long, between ListKeys pages
const CONCURRENCY = 6; // a browser's connections per origin

// The list's position survives a visit to a key's page.
const listState = { filters: { state: '', spec: '', usage: '', alias: '', tag: '' }, pageSize: 50, markers: [''], page: 0 };

function withId(el, id) { el.id = id; return el; }

function keyLink(id) { return h('a.mono', { href: '#/key/' + encodeURIComponent(id) }, id); }

function keyRow(k) {
  const m = k.meta || {};
  return h('tr', { 'data-key-id': k.id },
    h('td', keyLink(k.id)),
    h('td.mono', (k.aliases || []).join(', ')),
    h('td', m.Description || ''),
    h('td', m.KeyState || (k.error ? k.error.code : '')),
    h('td', m.KeySpec || ''), h('td', m.KeyUsage || ''), h('td', fmtTime(m.CreationDate)));
}

const HEADERS = ['Key ID', 'Aliases', 'Description', 'State', 'Spec', 'Usage', 'Created'];

// describe returns {id, meta, aliases, tags} of the keys, with at most
// CONCURRENCY requests in flight; aliases only withAliases (a scan looks
// them up for the keys that match only).
async function describe(c, ids, withTags, withAliases = true) {
  return pool(ids, CONCURRENCY, async (id) => {
    const [d, a, t] = await Promise.all([
      c.kms('DescribeKey', { KeyId: id }),
      withAliases ? c.kms('ListAliases', { KeyId: id, Limit: 10 }).catch(() => ({ Aliases: [] })) : { Aliases: [] },
      withTags ? c.kms('ListResourceTags', { KeyId: id, Limit: 50 }).catch(() => ({ Tags: [] })) : null,
    ]);
    return { id, meta: d.KeyMetadata, aliases: (a.Aliases || []).map((x) => x.AliasName), tags: t ? t.Tags || [] : [] };
  }).then((rs) => rs.map((r, i) => (r && r.error ? { id: ids[i], error: r.error } : r)));
}

function matches(k, f) {
  const m = k.meta;
  if (!m) return false;
  if (f.state && m.KeyState !== f.state) return false;
  if (f.spec && m.KeySpec !== f.spec) return false;
  if (f.usage && m.KeyUsage !== f.usage) return false;
  if (f.tag) {
    const [tk, tv] = f.tag.split('=');
    if (!k.tags.some((t) => t.TagKey === tk.trim() && (tv === undefined || t.TagValue === tv.trim()))) return false;
  }
  return true;
}

export async function keysPage(session) {
  const c = session.client;
  const st = listState;
  const f = st.filters;
  const out = h('div', { 'aria-live': 'polite' });
  const body = h('div');
  const fState = select('state', STATES.map((s) => [s, s || 'any']), f.state);
  const fSpec = select('spec', [['', 'any']].concat(Object.keys(SPECS)), f.spec);
  const fUsage = select('usage', USAGES.map((s) => [s, s || 'any']), f.usage);
  const fAlias = h('input', { name: 'alias', value: f.alias, placeholder: 'alias/app', spellcheck: 'false' });
  const fTag = h('input', { name: 'tag', value: f.tag, placeholder: 'Team=payments' });
  const fSize = select('pageSize', ['25', '50', '100'], String(st.pageSize));
  const form = h('form', { 'aria-label': 'Filter keys', id: 'key-filters' },
    field('State', fState), field('Key spec', fSpec), field('Key usage', fUsage),
    field('Alias contains', fAlias), field('Tag (key or key=value)', fTag), field('Page size', fSize),
    h('button', { type: 'submit' }, 'Apply'));
  onSubmit(form, out, async () => {
    Object.assign(f, { state: fState.value, spec: fSpec.value, usage: fUsage.value, alias: fAlias.value.trim(), tag: fTag.value.trim() });
    st.pageSize = Number(fSize.value);
    st.markers = [''];
    st.page = 0;
    await show();
  });

  async function show() {
    clear(body).append(h('p.busy', 'Loading…'));
    const filtered = f.state || f.spec || f.usage || f.tag;
    if (f.alias) return showAliases();
    if (!filtered) return showPage();
    return showScan();
  }

  // Unfiltered: one ListKeys page, and only its keys described.
  async function showPage() {
    const r = await c.kms('ListKeys', { Limit: st.pageSize, Marker: st.markers[st.page] || undefined });
    const ids = (r.Keys || []).map((k) => k.KeyId);
    const ks = await describe(c, ids, false);
    if (r.Truncated) st.markers[st.page + 1] = r.NextMarker; else st.markers.length = st.page + 1;
    clear(body).append(table(HEADERS, ks.map(keyRow), `Page ${st.page + 1}: ${ks.length} keys`),
      pager(st.page > 0, !!r.Truncated));
  }

  // Alias filter: the account's aliases are listed (paged) and the keys
  // they name described; keys are never all described.
  async function showAliases() {
    const found = [];
    let marker = st.markers[st.page] || undefined, truncated = false, scanned = 0;
    do {
      const r = await c.kms('ListAliases', { Limit: 100, Marker: marker });
      for (const a of r.Aliases || []) {
        scanned++;
        if (a.TargetKeyId && a.AliasName.toLowerCase().includes(f.alias.toLowerCase())) found.push(a);
      }
      truncated = !!r.Truncated;
      marker = r.NextMarker;
    } while (truncated && found.length < st.pageSize && scanned < SCAN_BUDGET);
    if (truncated) st.markers[st.page + 1] = marker; else st.markers.length = st.page + 1;
    const ids = [...new Set(found.map((a) => a.TargetKeyId))];
    const ks = (await describe(c, ids, !!f.tag)).filter((k) => matches(k, f));
    clear(body).append(table(HEADERS, ks.map(keyRow),
      `${ks.length} keys whose alias contains "${f.alias}", among ${scanned} aliases examined` + (truncated ? '; more aliases remain' : '; all aliases examined')),
      pager(st.page > 0, truncated));
  }

  // Other filters need each key's metadata: keys are examined in
  // ListKeys order, 100 at a time, until a page of matches, SCAN_BUDGET
  // keys or SCAN_MS; the caption says how many were examined and whether
  // keys remain, and "Next" continues where the scan stopped. So a filter
  // never claims "no match" for keys it has not looked at, and a step
  // costs the same with 100 keys or 100,000.
  async function showScan() {
    const found = [];
    const t0 = performance.now();
    let marker = st.markers[st.page] || undefined, truncated = false, scanned = 0;
    do {
      const r = await c.kms('ListKeys', { Limit: 100, Marker: marker });
      const ks = await describe(c, (r.Keys || []).map((k) => k.KeyId), !!f.tag, false);
      scanned += ks.length;
      const hits = ks.filter((k) => matches(k, f));
      await pool(hits, CONCURRENCY, async (k) => {
        const a = await c.kms('ListAliases', { KeyId: k.id, Limit: 10 }).catch(() => ({ Aliases: [] }));
        k.aliases = (a.Aliases || []).map((x) => x.AliasName);
      });
      found.push(...hits);
      truncated = !!r.Truncated;
      marker = r.NextMarker;
    } while (truncated && found.length < st.pageSize && scanned < SCAN_BUDGET && performance.now() - t0 < SCAN_MS);
    if (truncated) st.markers[st.page + 1] = marker; else st.markers.length = st.page + 1;
    clear(body).append(table(HEADERS, found.map(keyRow),
      `${found.length} matching keys among ${scanned} examined in this step` + (truncated ? '; more keys remain: Next examines them' : '; no keys remain')),
      pager(st.page > 0, truncated));
  }

  function pager(prev, next) {
    return h('div.row', { role: 'navigation', 'aria-label': 'Pages' },
      h('button.secondary', { type: 'button', disabled: !prev, onclick: () => { st.page--; show().catch(fail); } }, 'Previous'),
      h('button.secondary', { type: 'button', id: 'next-page', disabled: !next, onclick: () => { st.page++; show().catch(fail); } }, 'Next'));
  }
  function fail(err) { clear(body).append(errorBox(err)); }

  show().catch(fail);
  return [h('h1', 'Keys'), h('div.row', h('a', { href: '#/keys/new', id: 'create-key' }, 'Create key')), form, out, body];
}

export async function createKeyPage(session) {
  const c = session.client;
  const out = h('div', { 'aria-live': 'polite', id: 'create-key-out' });
  const spec = select('KeySpec', Object.keys(SPECS), 'SYMMETRIC_DEFAULT');
  const usage = select('KeyUsage', SPECS.SYMMETRIC_DEFAULT, 'ENCRYPT_DECRYPT');
  spec.addEventListener('change', () => {
    clear(usage).append(...SPECS[spec.value].map((u) => h('option', { value: u }, u)));
  });
  const origin = select('Origin', [['AWS_KMS', 'Trent generates the key material'], ['EXTERNAL', 'Import key material (EXTERNAL)']], 'AWS_KMS');
  const desc = h('input', { name: 'Description' });
  const alias = h('input', { name: 'AliasName', placeholder: 'alias/app', spellcheck: 'false' });
  const tags = h('textarea', { name: 'Tags', rows: 2, placeholder: 'Team=payments' });
  const policy = h('textarea', { name: 'Policy', rows: 6, placeholder: 'Leave empty for the default key policy' });
  const form = h('form', { 'aria-label': 'Create key', id: 'create-key-form' },
    field('Key spec', spec), field('Key usage', usage), field('Key material origin', origin),
    field('Description', desc), field('Alias (optional)', alias),
    h('div.field.wide', field('Tags (key=value, one a line)', tags)),
    h('div.field.wide', field('Key policy (optional JSON)', policy)),
    h('button', { type: 'submit' }, 'Create key'));
  onSubmit(form, out, async () => {
    const input = { KeySpec: spec.value, KeyUsage: usage.value, Origin: origin.value };
    if (desc.value) input.Description = desc.value;
    const t = parsePairs(tags.value);
    if (Object.keys(t).length) input.Tags = Object.entries(t).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    if (policy.value.trim()) {
      const p = validatePolicy(policy.value, true);
      if (p.length) throw Object.assign(new Error(p.join(' ')), { code: 'PolicyValidation' });
      input.Policy = policy.value;
    }
    const r = await c.kms('CreateKey', input);
    const id = r.KeyMetadata.KeyId;
    if (alias.value.trim()) await c.kms('CreateAlias', { AliasName: alias.value.trim(), TargetKeyId: id });
    location.hash = '#/key/' + encodeURIComponent(id);
  });
  return [h('h1', 'Create key'), form, out];
}

function dl(pairs) {
  return h('dl.meta', pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [h('dt', k), h('dd', v instanceof Node ? v : String(v))]));
}

export async function keyPage(session, keyId) {
  const c = session.client;
  const d = await c.kms('DescribeKey', { KeyId: keyId });
  const m = d.KeyMetadata;
  const id = m.KeyId;
  const safe = (p) => p.then((r) => ({ r }), (e) => ({ e }));
  // Only symmetric encryption keys rotate (KMS answers the others'
  // rotation calls with UnsupportedOperationException).
  const rotatable = m.KeySpec === 'SYMMETRIC_DEFAULT';
  const [aliases, tags, grants, policy, rot, rots, usage] = await Promise.all([
    safe(c.kms('ListAliases', { KeyId: id, Limit: 100 })),
    safe(c.kms('ListResourceTags', { KeyId: id, Limit: 50 })),
    safe(c.kms('ListGrants', { KeyId: id, Limit: 100 })),
    safe(c.kms('GetKeyPolicy', { KeyId: id, PolicyName: 'default' })),
    rotatable ? safe(c.kms('GetKeyRotationStatus', { KeyId: id })) : null,
    rotatable ? safe(c.kms('ListKeyRotations', { KeyId: id, Limit: 100 })) : null,
    safe(c.kms('GetKeyLastUsage', { KeyId: id })),
  ]);
  const out = h('div', { 'aria-live': 'polite', id: 'key-out' });
  const or = (x, f) => (x && x.e ? errorBox(x.e) : f(x.r));
  const parts = [h('h1', 'Key ', h('span.mono', id)), out];

  parts.push(h('h2', 'Metadata'), dl([
    ['ARN', m.Arn], ['State', h('span#key-state', { 'data-state': m.KeyState }, m.KeyState)], ['Description', m.Description], ['Key spec', m.KeySpec], ['Key usage', m.KeyUsage],
    ['Origin', m.Origin], ['Manager', m.KeyManager], ['Created', fmtTime(m.CreationDate)], ['Deletion date', fmtTime(m.DeletionDate)],
    ['Current key material', m.CurrentKeyMaterialId], ['Valid to', fmtTime(m.ValidTo)], ['Expiration model', m.ExpirationModel],
    ['Encryption algorithms', (m.EncryptionAlgorithms || []).join(', ')], ['Signing algorithms', (m.SigningAlgorithms || []).join(', ')],
    ['MAC algorithms', (m.MacAlgorithms || []).join(', ')], ['Key agreement algorithms', (m.KeyAgreementAlgorithms || []).join(', ')],
  ]));

  // State changes.
  const days = h('input', { type: 'number', min: 7, max: 30, value: 30, name: 'PendingWindowInDays' });
  const stateActions = h('div.panel', { role: 'group', 'aria-label': 'Key state' },
    m.KeyState === 'Disabled' ? action('Enable key', async () => { await c.kms('EnableKey', { KeyId: id }); reload(); }, out) : null,
    m.KeyState === 'Enabled' ? action('Disable key', async () => { await c.kms('DisableKey', { KeyId: id }); reload(); }, out, 'secondary') : null,
    m.KeyState === 'PendingDeletion'
      ? action('Cancel key deletion', async () => { await c.kms('CancelKeyDeletion', { KeyId: id }); reload(); }, out)
      : [field('Waiting period (days)', days),
        action('Schedule key deletion', async () => {
          if (!confirm('Schedule deletion of ' + id + '? It can be cancelled during the waiting period.')) return;
          await c.kms('ScheduleKeyDeletion', { KeyId: id, PendingWindowInDays: Number(days.value) });
          reload();
        }, out, 'danger')]);
  parts.push(h('h2', 'State'), stateActions);

  const desc = h('input', { name: 'Description', value: m.Description || '' });
  parts.push(onSubmit(h('form', { 'aria-label': 'Description' }, field('Description', desc), h('button', { type: 'submit' }, 'Update description')), out,
    async () => { await c.kms('UpdateKeyDescription', { KeyId: id, Description: desc.value }); reload(); }));

  if (m.KeyState === 'PendingImport' || m.Origin === 'EXTERNAL') parts.push(h('h2', 'Key material'), importForm(c, m, out));

  // Rotation and material versions.
  parts.push(h('h2', 'Rotation and key material'));
  if (rot) {
    parts.push(or(rot, (r) => {
      const period = h('input', { type: 'number', min: 90, max: 2560, value: r.RotationPeriodInDays || 365, name: 'RotationPeriodInDays' });
      return h('div', dl([['Automatic rotation', r.KeyRotationEnabled ? 'enabled' : 'disabled'], ['Rotation period (days)', r.RotationPeriodInDays],
        ['Next rotation', fmtTime(r.NextRotationDate)], ['On-demand rotation started', fmtTime(r.OnDemandRotationStartDate)]]),
      h('div.panel', field('Rotation period (days)', period),
        action(r.KeyRotationEnabled ? 'Change rotation period' : 'Enable automatic rotation',
          async () => { await c.kms('EnableKeyRotation', { KeyId: id, RotationPeriodInDays: Number(period.value) }); reload(); }, out),
        r.KeyRotationEnabled ? action('Disable automatic rotation', async () => { await c.kms('DisableKeyRotation', { KeyId: id }); reload(); }, out, 'secondary') : null,
        action('Rotate now', async () => { await c.kms('RotateKeyOnDemand', { KeyId: id }); reload(); }, out, 'secondary')));
    }));
  }
  if (!rotatable) parts.push(h('p', 'Keys of spec ' + m.KeySpec + ' do not rotate.'));
  if (rots) parts.push(or(rots, (r) => withId(table(['Key material', 'Type', 'State', 'Rotated', 'Rotation type'], (r.Rotations || []).map((x) =>
    h('tr', h('td.mono', x.KeyMaterialId || ''), h('td', x.ImportState ? 'imported' : ''), h('td', x.KeyMaterialState || ''),
      h('td', fmtTime(x.RotationDate)), h('td', x.RotationType || ''))), 'Material versions (ListKeyRotations)'), 'rotations')));
  parts.push(h('h2', 'Last usage'), or(usage, (r) => r.KeyLastUsage
    ? dl([['Operation', r.KeyLastUsage.Operation], ['Time', fmtTime(r.KeyLastUsage.Timestamp)], ['Event', r.KeyLastUsage.CloudTrailEventId ? h('a', { href: '#/event/' + encodeURIComponent(r.KeyLastUsage.CloudTrailEventId) }, r.KeyLastUsage.CloudTrailEventId) : ''], ['Tracking since', fmtTime(r.TrackingStartDate)]])
    : h('p', 'Not used since tracking started ' + fmtTime(r.TrackingStartDate) + '.')));

  // Aliases.
  const aliasIn = h('input', { name: 'AliasName', placeholder: 'alias/app', spellcheck: 'false' });
  parts.push(h('h2', 'Aliases'), or(aliases, (r) => table(['Alias', ''], (r.Aliases || []).map((a) =>
    h('tr', h('td.mono', a.AliasName), h('td', action('Delete alias', async () => { await c.kms('DeleteAlias', { AliasName: a.AliasName }); reload(); }, out, 'secondary')))))),
  onSubmit(h('form', { 'aria-label': 'Create alias', id: 'alias-form' }, field('New alias', aliasIn), h('button', { type: 'submit' }, 'Create alias')), out,
    async () => { await c.kms('CreateAlias', { AliasName: aliasIn.value.trim(), TargetKeyId: id }); reload(); }));

  // Tags.
  const tk = h('input', { name: 'TagKey' }), tv = h('input', { name: 'TagValue' });
  parts.push(h('h2', 'Tags'), or(tags, (r) => withId(table(['Key', 'Value', ''], (r.Tags || []).map((t) =>
    h('tr', h('td', t.TagKey), h('td', t.TagValue), h('td', action('Remove tag', async () => { await c.kms('UntagResource', { KeyId: id, TagKeys: [t.TagKey] }); reload(); }, out, 'secondary'))))), 'tags')),
  onSubmit(h('form', { 'aria-label': 'Add tag', id: 'tag-form' }, field('Tag key', tk), field('Tag value', tv), h('button', { type: 'submit' }, 'Add tag')), out,
    async () => { await c.kms('TagResource', { KeyId: id, Tags: [{ TagKey: tk.value, TagValue: tv.value }] }); reload(); }));

  parts.push(h('h2', 'Grants'), or(grants, (r) => withId(table(['Grant ID', 'Name', 'Grantee', 'Operations', 'Constraints', ''], (r.Grants || []).map((g) =>
    h('tr', h('td.mono', g.GrantId), h('td', g.Name || ''), h('td.mono', g.GranteePrincipal || ''), h('td', (g.Operations || []).join(', ')),
      h('td.mono', g.Constraints ? JSON.stringify(g.Constraints) : ''),
      h('td', action('Revoke', async () => { await c.kms('RevokeGrant', { KeyId: id, GrantId: g.GrantId }); reload(); }, out, 'secondary')))), 'Grants'), 'grants')),
  grantForm(c, m, out));

  parts.push(h('h2', 'Key policy'), or(policy, (r) => policyEditor(c, id, r.Policy, out)));
  return parts;
}

const GRANT_OPS = ['Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'Sign', 'Verify',
  'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret'];

function grantForm(c, m, out) {
  const grantee = h('input', { name: 'GranteePrincipal', placeholder: 'arn:aws:iam::111122223333:user/app', spellcheck: 'false' });
  const retiring = h('input', { name: 'RetiringPrincipal', spellcheck: 'false' });
  const name = h('input', { name: 'Name' });
  const ec = h('textarea', { name: 'EncryptionContextSubset', rows: 2, placeholder: 'purpose=test' });
  const ops = GRANT_OPS.map((o) => h('label', h('input', { type: 'checkbox', value: o, name: 'op' }), ' ' + o));
  const form = h('form', { 'aria-label': 'Create grant', id: 'grant-form' }, field('Grantee principal', grantee), field('Retiring principal (optional)', retiring),
    field('Name (optional)', name),
    h('fieldset.wide', h('legend', 'Operations'), h('div.row', ops)),
    h('div.field.wide', field('Encryption context subset (key=value lines, optional)', ec)),
    h('button', { type: 'submit' }, 'Create grant'));
  return onSubmit(form, out, async () => {
    const input = { KeyId: m.KeyId, GranteePrincipal: grantee.value.trim(), Operations: ops.map((l) => l.firstChild).filter((x) => x.checked).map((x) => x.value) };
    if (retiring.value.trim()) input.RetiringPrincipal = retiring.value.trim();
    if (name.value.trim()) input.Name = name.value.trim();
    const sub = parsePairs(ec.value);
    if (Object.keys(sub).length) input.Constraints = { EncryptionContextSubset: sub };
    const r = await c.kms('CreateGrant', input);
    reload();
    return note('Grant ' + r.GrantId + ' created.');
  });
}

function policyEditor(c, id, current, out) {
  const cur = pretty(current);
  const ta = h('textarea', { name: 'Policy', rows: 18, id: 'policy-text', spellcheck: 'false' });
  ta.value = cur;
  const review = h('div', { 'aria-live': 'polite', id: 'policy-review' });
  const form = h('form', { 'aria-label': 'Key policy', id: 'policy-form' }, h('div.field.wide', field('Policy document', ta)),
    h('button', { type: 'submit', id: 'policy-review-btn' }, 'Review changes'));
  onSubmit(form, review, async () => {
    const problems = validatePolicy(ta.value, true);
    if (problems.length) return h('div.error', { role: 'alert' }, h('strong.code', 'Policy not valid'), h('ul', problems.map((p) => h('li', p))));
    const next = pretty(ta.value);
    if (next === cur) return note('No changes.');
    return h('div', h('p', 'Changes to the key policy:'), diffView(cur, next),
      action('Save policy', async () => { await c.kms('PutKeyPolicy', { KeyId: id, PolicyName: 'default', Policy: ta.value }); reload(); }, review));
  });
  return h('div', form, review);
}

function importForm(c, m, out) {
  const wrapAlg = select('WrappingAlgorithm', ['RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256'], m.KeySpec === 'SYMMETRIC_DEFAULT' || m.KeySpec.startsWith('HMAC') ? 'RSAES_OAEP_SHA_256' : 'RSA_AES_KEY_WRAP_SHA_256');
  const wrapSpec = select('WrappingKeySpec', ['RSA_2048', 'RSA_3072', 'RSA_4096'], 'RSA_4096');
  const file = h('input', { type: 'file', name: 'material' });
  const gen = h('input', { type: 'checkbox', name: 'generate' });
  const expiry = h('input', { type: 'datetime-local', name: 'ValidTo' });
  const form = h('form', { 'aria-label': 'Import key material', id: 'import-form' },
    field('Wrapping algorithm', wrapAlg), field('Wrapping key spec', wrapSpec),
    field('Key material file (raw bytes; PKCS#8 DER for asymmetric keys)', file),
    h('div.field', h('label', gen, ' Generate 32 random bytes in this browser instead (symmetric keys)')),
    field('Expires (optional, UTC)', expiry),
    h('button', { type: 'submit' }, 'Import key material'));
  return onSubmit(form, out, async () => {
    let material;
    if (gen.checked) material = crypto.getRandomValues(new Uint8Array(32));
    else if (file.files[0]) material = new Uint8Array(await file.files[0].arrayBuffer());
    else throw Object.assign(new Error('Choose a file of key material, or generate it.'), { code: 'ValidationError' });
    const p = await c.kms('GetParametersForImport', { KeyId: m.KeyId, WrappingAlgorithm: wrapAlg.value, WrappingKeySpec: wrapSpec.value });
    const wrapped = await wrapForImport(wrapAlg.value, unb64(p.PublicKey), material);
    material.fill(0);
    const input = { KeyId: m.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: b64(wrapped) };
    if (expiry.value) { input.ExpirationModel = 'KEY_MATERIAL_EXPIRES'; input.ValidTo = Math.floor(new Date(expiry.value + 'Z').getTime() / 1000); }
    else input.ExpirationModel = 'KEY_MATERIAL_DOES_NOT_EXPIRE';
    await c.kms('ImportKeyMaterial', input);
    reload();
  });
}
