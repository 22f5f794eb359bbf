// Principals: users, roles, access keys (the secret shown once) and
// inline policies, over the IAM query API.
import { text, members } from './api.js';
import { h, field, table, errorBox, note, clear, fmtTime, reload, action, onSubmit, validatePolicy, pretty, diffView } from './ui.js';

function entityRows(list, kind) {
  return list.map((u) => h('tr',
    h('td', h('a', { href: '#/' + kind + '/' + encodeURIComponent(text(u, kind === 'user' ? 'UserName' : 'RoleName')) }, text(u, kind === 'user' ? 'UserName' : 'RoleName'))),
    h('td.mono', text(u, 'Arn')), h('td', text(u, 'Path')), h('td', fmtTime(text(u, 'CreateDate')))));
}

// listAll pages an IAM list action (Marker/IsTruncated), up to max items.
async function listAll(c, actionName, listName, params, max = 1000) {
  const items = [];
  let marker;
  do {
    const r = await c.iam(actionName, { ...params, Marker: marker, MaxItems: 100 });
    items.push(...members(r, listName));
    marker = text(r, 'IsTruncated') === 'true' ? text(r, 'Marker') : undefined;
  } while (marker && items.length < max);
  return items;
}

export async function principalsPage(session) {
  const c = session.client;
  const out = h('div', { 'aria-live': 'polite' });
  const safe = (p) => p.then((r) => ({ r }), (e) => ({ e }));
  const [users, roles] = await Promise.all([safe(listAll(c, 'ListUsers', 'Users')), safe(listAll(c, 'ListRoles', 'Roles'))]);
  const uname = h('input', { name: 'UserName', spellcheck: 'false' });
  const upath = h('input', { name: 'Path', value: '/' });
  const rname = h('input', { name: 'RoleName', spellcheck: 'false' });
  const trust = h('textarea', { name: 'AssumeRolePolicyDocument', rows: 6, spellcheck: 'false' });
  trust.value = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::' + session.identity.account + ':root' }, Action: 'sts:AssumeRole' }] }, null, 2);
  return [h('h1', 'Principals'), out,
    h('h2', 'Users'),
    users.e ? errorBox(users.e) : table(['Name', 'ARN', 'Path', 'Created'], entityRows(users.r, 'user')),
    onSubmit(h('form', { 'aria-label': 'Create user', id: 'create-user-form' }, field('User name', uname), field('Path', upath), h('button', { type: 'submit' }, 'Create user')), out,
      async () => { await c.iam('CreateUser', { UserName: uname.value.trim(), Path: upath.value.trim() || '/' }); location.hash = '#/user/' + encodeURIComponent(uname.value.trim()); }),
    h('h2', 'Roles'),
    roles.e ? errorBox(roles.e) : table(['Name', 'ARN', 'Path', 'Created'], entityRows(roles.r, 'role')),
    onSubmit(h('form', { 'aria-label': 'Create role', id: 'create-role-form' }, field('Role name', rname),
      h('div.field.wide', field('Trust policy', trust)), h('button', { type: 'submit' }, 'Create role')), out,
    async () => {
      const p = validatePolicy(trust.value, 'trust');
      if (p.length) throw Object.assign(new Error(p.join(' ')), { code: 'PolicyValidation' });
      await c.iam('CreateRole', { RoleName: rname.value.trim(), AssumeRolePolicyDocument: trust.value });
      location.hash = '#/role/' + encodeURIComponent(rname.value.trim());
    })];
}

// inlinePolicies is the list, view, edit (with a diff) and deletion of
// an entity's inline policies; kind is 'User' or 'Role'.
async function inlinePolicies(c, kind, name, out) {
  const nameParam = { [kind + 'Name']: name };
  const r = await c.iam('List' + kind + 'Policies', nameParam);
  const names = members(r, 'PolicyNames').map((x) => x.textContent);
  const docs = await Promise.all(names.map((p) => c.iam('Get' + kind + 'Policy', { ...nameParam, PolicyName: p })
    .then((d) => pretty(decodeURIComponent(text(d, 'PolicyDocument'))), (e) => e)));
  const pname = h('input', { name: 'PolicyName', spellcheck: 'false' });
  const doc = h('textarea', { name: 'PolicyDocument', rows: 10, spellcheck: 'false', id: 'inline-policy-text' });
  doc.value = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:ListKeys', 'kms:DescribeKey'], Resource: '*' }] }, null, 2);
  const review = h('div', { 'aria-live': 'polite' });
  return [
    ...names.map((p, i) => h('div', h('h3', p), docs[i] instanceof Error ? errorBox(docs[i]) : h('pre', docs[i]),
      h('div.row',
        action('Edit', async () => { pname.value = p; doc.value = docs[i]; pname.focus(); }, out, 'secondary'),
        action('Delete policy ' + p, async () => { await c.iam('Delete' + kind + 'Policy', { ...nameParam, PolicyName: p }); reload(); }, out, 'secondary')))),
    onSubmit(h('form', { 'aria-label': 'Put inline policy', id: 'inline-policy-form' }, field('Policy name', pname),
      h('div.field.wide', field('Policy document', doc)), h('button', { type: 'submit' }, 'Review policy')), review, async () => {
      const problems = validatePolicy(doc.value, false);
      if (problems.length) return h('div.error', { role: 'alert' }, h('strong.code', 'Policy not valid'), h('ul', problems.map((x) => h('li', x))));
      const i = names.indexOf(pname.value.trim());
      const before = i >= 0 && typeof docs[i] === 'string' ? docs[i] : '';
      return h('div', h('p', before ? 'Changes to ' + pname.value + ':' : 'New policy ' + pname.value + ':'), diffView(before, pretty(doc.value)),
        action('Save policy', async () => { await c.iam('Put' + kind + 'Policy', { ...nameParam, PolicyName: pname.value.trim(), PolicyDocument: doc.value }); reload(); }, review));
    }),
    review];
}

function withId(el, id) { el.id = id; return el; }

export async function userPage(session, name) {
  const c = session.client;
  const out = h('div', { 'aria-live': 'polite', id: 'user-out' });
  const u = await c.iam('GetUser', { UserName: name });
  const keys = await c.iam('ListAccessKeys', { UserName: name });
  const created = h('div', { 'aria-live': 'assertive', id: 'new-access-key' });
  return [h('h1', 'User ', name), out,
    h('dl.meta', h('dt', 'ARN'), h('dd.mono', text(u, 'Arn')), h('dt', 'User ID'), h('dd.mono', text(u, 'UserId')), h('dt', 'Created'), h('dd', fmtTime(text(u, 'CreateDate')))),
    h('h2', 'Access keys'),
    table(['Access key ID', 'Status', 'Created', ''], members(keys, 'AccessKeyMetadata').map((k) => {
      const id = text(k, 'AccessKeyId'), status = text(k, 'Status');
      return h('tr', h('td.mono', id), h('td', status), h('td', fmtTime(text(k, 'CreateDate'))), h('td.row',
        action(status === 'Active' ? 'Deactivate' : 'Activate', async () => { await c.iam('UpdateAccessKey', { UserName: name, AccessKeyId: id, Status: status === 'Active' ? 'Inactive' : 'Active' }); reload(); }, out, 'secondary'),
        action('Delete', async () => { if (confirm('Delete access key ' + id + '?')) { await c.iam('DeleteAccessKey', { UserName: name, AccessKeyId: id }); reload(); } }, out, 'secondary')));
    })),
    withId(action('Create access key', async () => {
      const r = await c.iam('CreateAccessKey', { UserName: name });
      // Shown once: the console keeps no copy.
      return h('div.secret', { role: 'alert' }, h('p', h('strong', 'Save the secret now: it is shown only once.')),
        h('dl.meta', h('dt', 'Access key ID'), h('dd.mono#new-akid', text(r, 'AccessKeyId')), h('dt', 'Secret access key'), h('dd.mono#new-secret', text(r, 'SecretAccessKey'))),
        action('Done', async () => { clear(created); reload(); }, out, 'secondary'));
    }, created), 'create-access-key'),
    created,
    h('h2', 'Inline policies'), ...(await inlinePolicies(c, 'User', name, out))];
}

export async function rolePage(session, name) {
  const c = session.client;
  const out = h('div', { 'aria-live': 'polite' });
  const r = await c.iam('GetRole', { RoleName: name });
  const cur = pretty(decodeURIComponent(text(r, 'AssumeRolePolicyDocument')));
  const trust = h('textarea', { name: 'AssumeRolePolicyDocument', rows: 10, spellcheck: 'false' });
  trust.value = cur;
  const review = h('div', { 'aria-live': 'polite' });
  return [h('h1', 'Role ', name), out,
    h('dl.meta', h('dt', 'ARN'), h('dd.mono', text(r, 'Arn')), h('dt', 'Role ID'), h('dd.mono', text(r, 'RoleId')), h('dt', 'Created'), h('dd', fmtTime(text(r, 'CreateDate')))),
    h('h2', 'Trust policy'),
    onSubmit(h('form', { 'aria-label': 'Trust policy' }, h('div.field.wide', field('Trust policy', trust)), h('button', { type: 'submit' }, 'Review changes')), review, async () => {
      const p = validatePolicy(trust.value, 'trust');
      if (p.length) return h('div.error', { role: 'alert' }, h('strong.code', 'Policy not valid'), h('ul', p.map((x) => h('li', x))));
      return h('div', diffView(cur, pretty(trust.value)),
        action('Save trust policy', async () => { await c.iam('UpdateAssumeRolePolicy', { RoleName: name, PolicyDocument: trust.value }); reload(); }, review));
    }), review,
    h('h2', 'Inline policies'), ...(await inlinePolicies(c, 'Role', name, out)),
    h('h2', 'Delete'),
    action('Delete role', async () => { if (confirm('Delete role ' + name + '?')) { await c.iam('DeleteRole', { RoleName: name }); location.hash = '#/principals'; } }, out, 'danger')];
}
