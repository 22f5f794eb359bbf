// The console's shell: the session (credentials in memory, sessionStorage
// only on request), idle sign-out, the router and the sign-in page.
import { Client, text } from './api.js';
import { h, field, errorBox, clear } from './ui.js';
import { keysPage, keyPage, createKeyPage } from './keys.js';
import { principalsPage, userPage, rolePage } from './principals.js';
import { auditPage, eventPage } from './audit.js';
import { scratchPage } from './scratch.js';

const STORE = 'trent-console-session'; // sessionStorage only, never localStorage
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signoutBtn = document.getElementById('signout');

export const session = { client: null, identity: null, idleMs: 15 * 60 * 1000, timer: 0, keep: false, last: 0, saved: 0 };

// The idle limit is measured on the wall clock from the last activity
// (session.last): a timer does not run while the tab is elsewhere, frozen
// or discarded, or the machine sleeps, so the timer only prompts the
// check, and every activity, and a restore, checks first.
function idleFor() { return Date.now() - session.last; }

function idleOut() {
  signOut('Signed out after ' + +(session.idleMs / 60000).toFixed(1) + ' minutes without activity.');
}

function check() {
  if (!session.client) return;
  if (idleFor() >= session.idleMs) { idleOut(); return; }
  clearTimeout(session.timer);
  session.timer = setTimeout(check, session.idleMs - idleFor());
}

// touch records activity; it is false if the session was idle past its
// limit (it has just signed out).
function touch() {
  if (!session.client) return true;
  if (idleFor() >= session.idleMs) { idleOut(); return false; }
  session.last = Date.now();
  if (session.keep && session.last - session.saved >= 1000) save();
  clearTimeout(session.timer);
  session.timer = setTimeout(check, session.idleMs);
  return true;
}
for (const ev of ['keydown', 'pointerdown', 'wheel']) document.addEventListener(ev, touch, { passive: true });
document.addEventListener('visibilitychange', check);
window.addEventListener('focus', check);

// save keeps the session in sessionStorage (only when asked), with the
// time of its last activity.
function save() {
  session.saved = session.last;
  sessionStorage.setItem(STORE, JSON.stringify({ creds: session.client.creds, region: session.client.region, identity: session.identity,
    idleMinutes: session.idleMs / 60000, last: session.last }));
}

function start(creds, region, identity, idleMinutes, keep, last) {
  session.client = new Client(creds, region, touch);
  session.identity = identity;
  session.idleMs = Math.max(0.1, idleMinutes) * 60 * 1000;
  session.keep = keep;
  session.last = last || Date.now();
  if (keep) save();
  else sessionStorage.removeItem(STORE);
  check();
}

export function signOut(why) {
  clearTimeout(session.timer);
  session.client = null;
  session.identity = null;
  sessionStorage.removeItem(STORE);
  route(why);
}
signoutBtn.addEventListener('click', () => signOut('Signed out.'));

// restore resumes a session kept for the tab, unless it has been idle
// past its limit (then it is forgotten and the sign-in page says why).
function restore() {
  const raw = sessionStorage.getItem(STORE);
  if (!raw) return undefined;
  try {
    const s = JSON.parse(raw);
    const idleMs = Math.max(0.1, Number(s.idleMinutes) || 15) * 60 * 1000;
    if (!(s.last > 0) || Date.now() - s.last >= idleMs) {
      sessionStorage.removeItem(STORE);
      return 'Signed out after ' + +(idleMs / 60000).toFixed(1) + ' minutes without activity.';
    }
    start(s.creds, s.region, s.identity, s.idleMinutes, true, s.last);
  } catch {
    sessionStorage.removeItem(STORE);
  }
  return undefined;
}

function signInPage(message) {
  const akid = h('input', { name: 'accessKeyId', autocomplete: 'username', required: true, spellcheck: 'false' });
  const secret = h('input', { name: 'secretAccessKey', type: 'password', autocomplete: 'off', required: true });
  const token = h('input', { name: 'sessionToken', type: 'password', autocomplete: 'off' });
  const region = h('input', { name: 'region', value: 'us-east-1', required: true });
  const role = h('input', { name: 'roleArn', placeholder: 'arn:aws:iam::111122223333:role/Admin', spellcheck: 'false' });
  const idle = h('input', { name: 'idle', type: 'number', min: 0.1, max: 720, step: 'any', value: 15 });
  const keep = h('input', { name: 'keep', type: 'checkbox' });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { 'aria-label': 'Sign in', id: 'signin' },
    field('Access key ID', akid),
    field('Secret access key', secret, 'Kept in this tab\'s memory only.'),
    field('Session token (optional)', token),
    field('Region', region),
    field('Assume role (optional role ARN)', role, 'Signs in as the role, with temporary credentials from STS AssumeRole.'),
    field('Sign out after idle minutes', idle),
    h('div.field', h('label', keep, ' Stay signed in for this tab (sessionStorage; cleared when the tab closes)')),
    h('button', { type: 'submit' }, 'Sign in'),
    h('div.wide', out));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(out).append(h('span.busy', 'Signing in…'));
    try {
      let creds = { accessKeyId: akid.value.trim(), secretAccessKey: secret.value, sessionToken: token.value.trim() || undefined };
      const c = new Client(creds, region.value.trim());
      if (role.value.trim()) {
        const r = await c.sts('AssumeRole', { RoleArn: role.value.trim(), RoleSessionName: 'trent-console-' + Date.now() });
        creds = { accessKeyId: text(r, 'AccessKeyId'), secretAccessKey: text(r, 'SecretAccessKey'), sessionToken: text(r, 'SessionToken') };
      }
      const id = await new Client(creds, region.value.trim()).sts('GetCallerIdentity');
      const identity = { arn: text(id, 'Arn'), account: text(id, 'Account'), userId: text(id, 'UserId') };
      secret.value = '';
      start(creds, region.value.trim(), identity, Number(idle.value) || 15, keep.checked);
      if (!location.hash || location.hash === '#/signin') location.hash = '#/keys';
      else route();
    } catch (err) {
      clear(out).append(errorBox(err));
    }
  });
  return [h('h1', 'Sign in'), message ? h('div.note', { role: 'status' }, message) : null,
    h('p', 'Sign in with an access key. The browser signs every request itself (SigV4); the console has no privilege of its own: you can do what your policies allow, and every action is in the audit trail.'),
    form];
}

const routes = [
  [/^#\/keys\/new$/, () => createKeyPage(session)],
  [/^#\/keys$/, () => keysPage(session)],
  [/^#\/key\/(.+)$/, (m) => keyPage(session, decodeURIComponent(m[1]))],
  [/^#\/principals$/, () => principalsPage(session)],
  [/^#\/user\/(.+)$/, (m) => userPage(session, decodeURIComponent(m[1]))],
  [/^#\/role\/(.+)$/, (m) => rolePage(session, decodeURIComponent(m[1]))],
  [/^#\/audit$/, () => auditPage(session)],
  [/^#\/event\/(.+)$/, (m) => eventPage(session, decodeURIComponent(m[1]))],
  [/^#\/scratch$/, () => scratchPage(session)],
];

let generation = 0;
export async function route(message) {
  const gen = ++generation;
  const signedIn = !!session.client;
  nav.hidden = !signedIn;
  signoutBtn.hidden = !signedIn;
  who.textContent = signedIn ? session.identity.arn : '';
  clear(main);
  if (!signedIn) {
    main.append(...signInPage(message));
    return;
  }
  const hash = location.hash || '#/keys';
  for (const a of nav.querySelectorAll('a')) {
    if (hash.startsWith(a.getAttribute('href'))) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  for (const [re, page] of routes) {
    const m = re.exec(hash);
    if (!m) continue;
    try {
      const content = await page(m);
      if (gen !== generation) return;
      clear(main).append(...[].concat(content));
    } catch (err) {
      if (gen !== generation) return;
      clear(main).append(errorBox(err));
    }
    const h1 = main.querySelector('h1');
    if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: true }); }
    return;
  }
  location.hash = '#/keys';
}

// refresh redraws the current page.
export function refresh() { route(); }

window.addEventListener('hashchange', () => route());
route(restore());
