// Element builder: h('tag.class#id', {attrs}, ...children). Children are
// nodes or text; text never becomes markup (no HTML string is parsed).
export function h(spec, attrs, ...children) {
  if (attrs === null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/.exec(spec);
  const el = document.createElement((m && m[1]) || 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
    }
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let seq = 0;
// field returns a labelled control: the label names it for screen readers.
export function field(label, control, hint) {
  const id = control.id || ('f' + (++seq));
  control.id = id;
  const hintEl = hint ? h('small.hint', { id: id + '-hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', id + '-hint');
  return h('div.field', h('label', { for: id }, label), control, hintEl);
}

export function select(name, options, value) {
  return h('select', { name },
    options.map((o) => {
      const [v, t] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, t);
    }));
}

export function table(headers, rows, caption) {
  return h('table', caption ? h('caption', caption) : null,
    h('thead', h('tr', headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows));
}

// errorBox shows an error as the AWS exception and its message.
export function errorBox(err) {
  const code = err && err.code ? err.code : 'Error';
  const msg = err && err.message ? err.message : String(err);
  return h('div.error', { role: 'alert' }, h('strong.code', code), ': ', h('span.msg', msg));
}

export function note(text) { return h('div.note', { role: 'status' }, text); }

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

export function fmtTime(v) {
  if (v === undefined || v === null || v === '') return '';
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  return isNaN(d) ? String(v) : d.toISOString().replace('.000Z', 'Z');
}

export function b64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function unb64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// lineDiff returns the lines of a and b as [op, line] with op ' ', '-' or
// '+': a longest-common-subsequence diff of what lies between their
// common head and tail, bounded in memory for any policy.
export function lineDiff(a, b) {
  const x = a.split('\n'), y = b.split('\n');
  // The common head and tail need no table; what is left between them is
  // diffed exactly while its table stays small (a policy is at most 32 KB,
  // but may be that many lines), else shown as removed then added.
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const xs = x.slice(head, x.length - tail), ys = y.slice(head, y.length - tail);
  const out = x.slice(0, head).map((l) => [' ', l]);
  const n = xs.length, m = ys.length;
  if ((n + 1) * (m + 1) > 4000000) {
    for (const l of xs) out.push(['-', l]);
    for (const l of ys) out.push(['+', l]);
  } else {
    const L = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
      L[i][j] = xs[i] === ys[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    }
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (xs[i] === ys[j]) { out.push([' ', xs[i]]); i++; j++; }
      else if (L[i + 1][j] >= L[i][j + 1]) out.push(['-', xs[i++]]);
      else out.push(['+', ys[j++]]);
    }
    while (i < n) out.push(['-', xs[i++]]);
    while (j < m) out.push(['+', ys[j++]]);
  }
  for (const l of x.slice(x.length - tail)) out.push([' ', l]);
  return out;
}

// reload redraws the current page.
export function reload() { window.dispatchEvent(new HashChangeEvent('hashchange')); }

// button returns a button that runs fn, shows its error in out (or its
// own result), and disables itself meanwhile.
export function action(label, fn, out, cls) {
  const b = h('button' + (cls ? '.' + cls : ''), { type: 'button' }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    if (out) clear(out);
    try {
      const r = await fn();
      if (out && r instanceof Node) out.append(r);
    } catch (err) {
      if (out) out.append(errorBox(err)); else alert((err.code || 'Error') + ': ' + err.message);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

// onSubmit makes form call fn on submit (Enter or its button), showing
// errors in out.
export function onSubmit(form, out, fn) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(out);
    const btn = form.querySelector('button[type=submit]');
    if (btn) btn.disabled = true;
    try {
      const r = await fn();
      if (r instanceof Node) out.append(r);
    } catch (err) {
      out.append(errorBox(err));
    } finally {
      if (btn) btn.disabled = false;
    }
  });
  return form;
}

// pool runs fn over items with at most n in flight, in order of results.
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      try { out[i] = await fn(items[i], i); } catch (e) { out[i] = { error: e }; }
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

// validatePolicy checks a policy document's shape before it is sent (the
// server validates it again); it returns a list of problems.
export function validatePolicy(textValue, needPrincipal) {
  let doc;
  try { doc = JSON.parse(textValue); } catch (e) { return ['Not valid JSON: ' + e.message]; }
  const p = [];
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return ['A policy is a JSON object.'];
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') p.push('Version must be "2012-10-17".');
  const sts = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  if (sts.length === 0) p.push('Statement is required.');
  sts.forEach((s, i) => {
    const n = 'Statement ' + (i + 1) + (s && s.Sid ? ' (' + s.Sid + ')' : '');
    if (!s || typeof s !== 'object') { p.push(n + ' is not an object.'); return; }
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') p.push(n + ': Effect must be Allow or Deny.');
    if (!s.Action && !s.NotAction) p.push(n + ': Action or NotAction is required.');
    if (needPrincipal && !s.Principal && !s.NotPrincipal) p.push(n + ': a key policy statement needs a Principal.');
    if (!s.Resource && !s.NotResource && needPrincipal !== 'trust') p.push(n + ': Resource or NotResource is required.');
  });
  return p;
}

export function pretty(textValue) {
  try { return JSON.stringify(JSON.parse(textValue), null, 2); } catch { return textValue; }
}

// diffView shows lineDiff(a, b).
export function diffView(a, b) {
  return h('div.diff', { role: 'region', 'aria-label': 'Changes' },
    lineDiff(a, b).map(([op, l]) => h('div' + (op === '+' ? '.add' : op === '-' ? '.del' : ''), op + ' ' + l)));
}

// parsePairs reads "key=value" lines into an object.
export function parsePairs(textValue) {
  const o = {};
  for (const line of textValue.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    const i = t.indexOf('=');
    if (i < 1) throw Object.assign(new Error('Write each pair as key=value: ' + t), { code: 'ValidationError' });
    o[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  return o;
}
