// Audit: search the trail through CloudTrail LookupEvents, view an
// event's record, and the verification state of the trail's digests.
import { h, field, select, table, errorBox, note, clear, fmtTime, onSubmit, action } from './ui.js';

const ATTRS = [['', 'any event'], ['EventName', 'Event name'], ['Username', 'Principal (user name)'], ['ResourceName', 'Key (ARN or ID)'],
  ['AccessKeyId', 'Access key ID'], ['EventId', 'Event ID'], ['EventSource', 'Event source'], ['ReadOnly', 'Read-only (true/false)']];

// The events of the last search, so that a record opens without a new
// lookup; a record not among them is looked up by EventId.
const seen = new Map();

export async function auditPage(session) {
  const c = session.client;
  const attr = select('attribute', ATTRS, 'EventName');
  const value = h('input', { name: 'value', spellcheck: 'false' });
  const errorsOnly = h('input', { type: 'checkbox', name: 'errorsOnly' });
  const errorCode = h('input', { name: 'errorCode', placeholder: 'AccessDeniedException', spellcheck: 'false' });
  const from = h('input', { type: 'datetime-local', name: 'start', step: 1 });
  const until = h('input', { type: 'datetime-local', name: 'end', step: 1 });
  const out = h('div', { 'aria-live': 'polite', id: 'audit-results' });
  let token, rows = [], query;

  async function fetchPage() {
    const r = await c.trail('LookupEvents', { ...query, NextToken: token });
    token = r.NextToken;
    for (const e of r.Events || []) {
      let rec = {};
      try { rec = JSON.parse(e.CloudTrailEvent); } catch { /* shown raw */ }
      seen.set(e.EventId, e);
      if (errorsOnly.checked && !rec.errorCode) continue;
      if (errorCode.value.trim() && rec.errorCode !== errorCode.value.trim()) continue;
      rows.push(h('tr',
        h('td', fmtTime(e.EventTime)), h('td', e.EventName), h('td', e.Username || ''),
        h('td.mono', (e.Resources || []).map((x) => x.ResourceName).join(' ')),
        h('td', rec.errorCode ? h('span.status-bad', rec.errorCode) : ''),
        h('td', h('a', { href: '#/event/' + encodeURIComponent(e.EventId) }, 'Open record'))));
    }
    clear(out).append(table(['Time', 'Event', 'Principal', 'Resources', 'Error', ''], rows,
      `${rows.length} events` + ((errorsOnly.checked || errorCode.value.trim()) ? ' with an error among those fetched' : '') + (token ? '; more remain' : '')),
    token ? action('More', fetchPage, out, 'secondary') : null);
  }

  const form = h('form', { 'aria-label': 'Search the trail', id: 'audit-form' },
    field('Look up by', attr), field('Value', value), field('From (UTC)', from), field('Until (UTC)', until),
    field('Error code (optional)', errorCode), h('div.field', h('label', errorsOnly, ' Errors only')),
    h('button', { type: 'submit' }, 'Search'));
  onSubmit(form, out, async () => {
    query = { MaxResults: 50 };
    if (attr.value && value.value.trim()) query.LookupAttributes = [{ AttributeKey: attr.value, AttributeValue: value.value.trim() }];
    if (from.value) query.StartTime = new Date(from.value + 'Z').getTime() / 1000;
    if (until.value) query.EndTime = new Date(until.value + 'Z').getTime() / 1000;
    token = undefined;
    rows = [];
    await fetchPage();
  });
  return [h('h1', 'Audit trail'), h('p', 'The search runs LookupEvents; the error filters apply to the events it returns (the API has no error attribute), and the caption says so.'),
    form, out, h('h2', 'Digest verification'), await digestState(c)];
}

async function digestState(c) {
  const box = h('div', { id: 'digest-state', 'aria-live': 'polite' });
  async function load() {
    try {
      const r = await c.trail('GetTrailVerification', {});
      clear(box).append(renderState(r), action('Check again', load, box, 'secondary'));
    } catch (err) {
      clear(box).append(errorBox(err));
    }
  }
  await load();
  return box;
}

function renderState(r) {
  const status = r.Status === 'Verified' ? h('span.status-ok', 'Verified') : r.Status === 'Failed' ? h('span.status-bad', 'Failed') : h('span', r.Status);
  return h('div', h('dl.meta',
    h('dt', 'State'), h('dd', status),
    h('dt', 'Checked at'), h('dd', fmtTime(r.CheckedAt) || 'not yet'),
    h('dt', 'Proven complete until'), h('dd', fmtTime(r.DigestsUntil) || '—'),
    h('dt', 'Digests'), h('dd', String(r.Digests || 0)),
    h('dt', 'Signing keys'), h('dd.mono', (r.SigningKeyIds || []).join(', '))),
  (r.Problems || []).length ? h('ul', r.Problems.map((p) => h('li.status-bad', p))) : null,
  (r.Warnings || []).length ? h('ul', r.Warnings.map((p) => h('li', p))) : null,
  r.Status === 'Checking' ? note('A verification is running; check again in a moment.') : null);
}

export async function eventPage(session, id) {
  let e = seen.get(id);
  if (!e) {
    const r = await session.client.trail('LookupEvents', { LookupAttributes: [{ AttributeKey: 'EventId', AttributeValue: id }] });
    e = (r.Events || [])[0];
  }
  if (!e) return [h('h1', 'Event ', id), h('p', 'No such event in the records your account can see.')];
  let rec = e.CloudTrailEvent;
  try { rec = JSON.stringify(JSON.parse(rec), null, 2); } catch { /* raw */ }
  return [h('h1', 'Event ', h('span.mono', id)), h('p', h('a', { href: '#/audit' }, 'Back to the search')),
    h('dl.meta', h('dt', 'Event'), h('dd', e.EventName), h('dt', 'Time'), h('dd', fmtTime(e.EventTime)), h('dt', 'Principal'), h('dd', e.Username || ''),
      h('dt', 'Source'), h('dd', e.EventSource)),
    h('h2', 'Record'), h('pre#event-record', { tabindex: 0, 'aria-label': 'The record as the trail holds it' }, rec)];
}
