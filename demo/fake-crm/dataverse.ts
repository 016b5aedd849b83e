/**
 * A Dynamics 365 org on 127.0.0.1 for the demo and the tests: the unified
 * interface's pages (main.aspx, which sets the session cookie) and the
 * Dataverse Web API for contacts, accounts, incidents and activities.
 *
 * It answers like Dataverse, and only to what Dataverse would accept: every
 * `$filter`, `$select`, `$orderby`, `$top` and `$expand` is parsed with a
 * real OData parser (`@odata/parser`) and evaluated over the rows; unknown
 * properties, functions or options are 400s; large results are paged with
 * `@odata.nextLink` under `Prefer: odata.maxpagesize`; requests without the
 * session cookie are 401s; and faults (500, a write whose answer is lost,
 * 429 with Retry-After, an expired session) can be injected.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultParser } from '@odata/parser';
import { escapeHtml, FakeOrgBase, readJson, sendJson } from './common';
import type { Seed } from './seed';
import type { CrmTransport } from '../../utils/crm/api';
import { readResponse } from '../../utils/crm/http';

type Row = Record<string, string | number | null>;
interface Node {
  type: string;
  value: unknown;
  raw: string;
}

const API = '/api/data/v9.2/';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_PAGE = 5000;

/** Each entity set: its key, and the properties it has (anything else is an error, as in Dataverse). */
const SETS = {
  contacts: {
    key: 'contactid',
    type: 'contact',
    props: ['contactid', 'fullname', 'firstname', 'lastname', 'emailaddress1', 'emailaddress2', 'emailaddress3', 'mobilephone', 'telephone1', 'telephone2', 'jobtitle', '_parentcustomerid_value', 'createdon'],
  },
  accounts: { key: 'accountid', type: 'account', props: ['accountid', 'name', 'telephone1', 'websiteurl'] },
  incidents: { key: 'incidentid', type: 'incident', props: ['incidentid', 'ticketnumber', 'title', 'statecode', 'statuscode', '_customerid_value', 'createdon'] },
  activitypointers: {
    key: 'activityid',
    type: 'activitypointer',
    props: ['activityid', 'activitytypecode', 'subject', 'description', 'category', 'statecode', 'statuscode', 'scheduledend', 'actualstart', 'actualend', 'actualdurationminutes', '_regardingobjectid_value', 'createdon'],
  },
  tasks: {
    key: 'activityid',
    type: 'task',
    props: ['activityid', 'activitytypecode', 'subject', 'description', 'category', 'statecode', 'statuscode', 'scheduledend', 'actualstart', 'actualend', 'actualdurationminutes', '_regardingobjectid_value', 'createdon'],
  },
} as const;
type SetName = keyof typeof SETS;

class ODataError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new ODataError(400, '0x80060888', message);

export class FakeDataverse extends FakeOrgBase {
  readonly contacts: Row[] = [];
  readonly accounts: Row[] = [];
  readonly incidents: Row[] = [];
  /** Every activity, tasks written back among them (activitytypecode "task"). */
  readonly activities: Row[] = [];
  session = randomUUID();

  get orgUrl(): string {
    return `${this.origin}/main.aspx?appid=demo`;
  }

  /** The contact row with this full name. */
  contact(fullname: string): Row {
    const row = this.contacts.find((c) => c.fullname === fullname);
    if (!row) throw new Error(`no contact ${fullname}`);
    return row;
  }

  recordUrl(entity: string, id: unknown): string {
    return `${this.origin}/main.aspx?pagetype=entityrecord&etn=${entity}&id=${String(id)}`;
  }

  /** Tasks on a contact's timeline. */
  tasksOf(contactId: unknown): Row[] {
    return this.activities.filter((a) => a.activitytypecode === 'task' && a._regardingobjectid_value === contactId);
  }

  /**
   * For tests in Node: what the content script in the org's tab does, a
   * same-origin Web API request with the session cookie the page set.
   */
  async signedInTransport(): Promise<CrmTransport> {
    const cookie = (await fetch(this.orgUrl)).headers.get('set-cookie')!.split(';')[0]!;
    return async (r) =>
      readResponse(
        await fetch(this.origin + r.path, {
          method: r.method,
          headers: { cookie, Accept: 'application/json', 'OData-Version': '4.0', ...(r.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...r.headers },
          ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}),
        }),
      );
  }

  /** An expired session: every API call is a 401 until the page is loaded again. */
  expireSession(): void {
    this.session = randomUUID();
  }

  static async start(seed: Seed, port = 0): Promise<FakeDataverse> {
    const org = new FakeDataverse();
    const accountIds = new Map<string, string>();
    const day = (n: number) => new Date(Date.UTC(2026, 10, 1) - n * 86_400_000).toISOString().replace('.000', '');
    for (const a of seed.accounts) {
      const id = randomUUID();
      accountIds.set(a.key, id);
      org.accounts.push({ accountid: id, name: a.name, telephone1: a.phone ?? null, websiteurl: a.website ?? null });
    }
    seed.contacts.forEach((c, i) => {
      const id = randomUUID();
      org.contacts.push({
        contactid: id,
        fullname: `${c.first} ${c.last}`,
        firstname: c.first,
        lastname: c.last,
        emailaddress1: c.email ?? null,
        emailaddress2: null,
        emailaddress3: null,
        mobilephone: c.mobile ?? null,
        telephone1: c.business ?? null,
        telephone2: c.home ?? null,
        jobtitle: c.title ?? null,
        _parentcustomerid_value: c.account ? (accountIds.get(c.account) ?? null) : null,
        createdon: day(i % 900),
      });
      for (const k of c.cases ?? []) {
        org.incidents.push({ incidentid: randomUUID(), ticketnumber: k.number, title: k.title, statecode: { active: 0, resolved: 1, cancelled: 2 }[k.state], statuscode: 1, _customerid_value: id, createdon: k.createdOn });
      }
      for (const subject of c.tasks ?? []) {
        org.activities.push({ activityid: randomUUID(), activitytypecode: 'task', subject, description: null, category: null, statecode: 0, statuscode: 2, scheduledend: day(-3), actualstart: null, actualend: null, actualdurationminutes: null, _regardingobjectid_value: id, createdon: day(1) });
      }
    });
    await org.listen((req, res, url) => org.#handle(req, res, url), port);
    return org;
  }

  async #handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/') return void res.writeHead(302, { location: '/main.aspx?appid=demo' }).end();
    if (url.pathname === '/main.aspx') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': `CrmOwinAuth=${this.session}; Path=/; HttpOnly; SameSite=Lax` });
      return void res.end(this.#page(url));
    }
    if (!url.pathname.startsWith(API)) return void res.writeHead(404).end();
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: decodeURIComponent(url.search) });
    const headers = { 'OData-Version': '4.0' };
    if (!(req.headers.cookie ?? '').includes(`CrmOwinAuth=${this.session}`)) return sendJson(res, 401, { error: { code: '0x80040220', message: 'The user is not authenticated.' } }, headers);
    const fault = this.takeFault(method, url);
    if (fault?.kind === 'signin') return sendJson(res, 401, { error: { code: '0x80040220', message: 'The user is not authenticated.' } }, headers);
    if (fault?.kind === 'throttle') {
      return sendJson(res, 429, { error: { code: '0x80072322', message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.' } }, { ...headers, 'Retry-After': String(fault.retryAfterS ?? 2) });
    }
    if (fault?.kind === '500') return sendJson(res, 500, { error: { code: '0x80040216', message: 'An unexpected error occurred.' } }, headers);
    try {
      const answer = await this.#api(req, url, method);
      if (fault?.kind === 'lost') return sendJson(res, 500, { error: { code: '0x80040216', message: 'An unexpected error occurred.' } }, headers);
      sendJson(res, answer.status, answer.body, { ...headers, ...answer.headers });
    } catch (error) {
      if (error instanceof ODataError) return sendJson(res, error.status, { error: { code: error.code, message: error.message } }, headers);
      throw error;
    }
  }

  async #api(req: IncomingMessage, url: URL, method: string): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const resource = url.pathname.slice(API.length);
    const single = /^(\w+)\(([^)]*)\)$/.exec(resource);
    const setName = (single ? single[1] : resource) as SetName;
    if (!(setName in SETS)) throw new ODataError(404, '0x80060888', `Resource not found for the segment '${setName}'.`);
    const set = SETS[setName];
    const id = single?.[2];
    if (id !== undefined && !GUID.test(id)) throw bad(`Bad Request - Error in query syntax: '${id}' is not a key.`);
    const prefer = String(req.headers.prefer ?? '');
    const options = readOptions(url);

    if (method === 'GET') {
      const rows = this.#rows(setName);
      if (id !== undefined) {
        const row = rows.find((r) => r[set.key] === id.toLowerCase());
        if (!row) throw new ODataError(404, '0x80040217', `${set.type} With Id = ${id} Does Not Exist`);
        return { status: 200, body: { '@odata.context': `${this.origin}${API}$metadata#${setName}/$entity`, ...this.#project(setName, row, options, prefer) } };
      }
      let matched = options.filter ? rows.filter((r) => truthy(evaluate(options.filter!, r, setName))) : [...rows];
      for (const order of [...options.orderBy].reverse()) {
        checkProp(setName, order.prop);
        matched.sort((a, b) => compare(a[order.prop], b[order.prop]) * order.direction);
      }
      const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
      let next: string | undefined;
      if (options.top !== undefined) matched = matched.slice(0, options.top);
      else {
        const size = Math.min(MAX_PAGE, Number(/odata\.maxpagesize=(\d+)/.exec(prefer)?.[1] ?? MAX_PAGE) || MAX_PAGE);
        if (matched.length > skip + size) {
          const params = new URLSearchParams(url.search);
          params.set('$skiptoken', String(skip + size));
          next = `${this.origin}${url.pathname}?${params.toString()}`;
        }
        matched = matched.slice(skip, skip + size);
      }
      return {
        status: 200,
        body: { '@odata.context': `${this.origin}${API}$metadata#${setName}`, value: matched.map((r) => this.#project(setName, r, options, prefer)), ...(next ? { '@odata.nextLink': next } : {}) },
        ...(/maxpagesize/.test(prefer) ? { headers: { 'Preference-Applied': /odata\.maxpagesize=\d+/.exec(prefer)![0] } } : {}),
      };
    }

    const body = await readJson(req).catch(() => {
      throw bad('The request body is not valid JSON.');
    });
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('The request body must be a JSON object.');
    if (method === 'POST' && id === undefined && setName === 'contacts') {
      const row = this.#write(setName, { contactid: randomUUID(), createdon: new Date().toISOString() }, body as Record<string, unknown>);
      if (typeof row.lastname !== 'string' || !row.lastname) throw bad("Attribute 'lastname' cannot be NULL.");
      row.fullname = [row.firstname, row.lastname].filter(Boolean).join(' ');
      this.contacts.push(row);
      const entityId = `${this.origin}${API}contacts(${String(row.contactid)})`;
      if (/return=representation/.test(prefer)) return { status: 201, body: this.#project(setName, row, options, prefer), headers: { 'OData-EntityId': entityId } };
      return { status: 204, headers: { 'OData-EntityId': entityId } };
    }
    if (method === 'PATCH' && id !== undefined && setName === 'tasks') {
      // Upsert: PATCH to a key creates the row when there is none.
      const existing = this.activities.find((a) => a.activityid === id.toLowerCase());
      const row = this.#write(setName, existing ? { ...existing } : { activityid: id.toLowerCase(), activitytypecode: 'task', statecode: 0, statuscode: 2, createdon: new Date().toISOString() }, body as Record<string, unknown>);
      if (typeof row.subject !== 'string' || !row.subject) throw bad("Attribute 'subject' cannot be NULL.");
      if (existing) Object.assign(existing, row);
      else this.activities.push(row);
      return { status: 204, headers: { 'OData-EntityId': `${this.origin}${API}tasks(${id})` } };
    }
    throw new ODataError(405, '0x80060888', `The HTTP method '${method}' is not allowed on '${resource}' in this org.`);
  }

  #rows(set: SetName): Row[] {
    if (set === 'contacts') return this.contacts;
    if (set === 'accounts') return this.accounts;
    if (set === 'incidents') return this.incidents;
    if (set === 'tasks') return this.activities.filter((a) => a.activitytypecode === 'task');
    return this.activities;
  }

  /** A body's properties onto a row: only known ones, navigation bindings resolved (to existing rows only). */
  #write(set: SetName, row: Row, body: Record<string, unknown>): Row {
    for (const [key, value] of Object.entries(body)) {
      const bind = /^(\w+)@odata\.bind$/.exec(key);
      if (bind) {
        const target = /^\/?(contacts|accounts)\(([0-9a-f-]{36})\)$/i.exec(String(value));
        const known = target && this.#rows(target[1] as SetName).some((r) => r[SETS[target[1] as SetName].key] === target[2]!.toLowerCase());
        if (set === 'tasks' && bind[1] === 'regardingobjectid_contact' && known) row._regardingobjectid_value = target![2]!.toLowerCase();
        else if (set === 'contacts' && bind[1] === 'parentcustomerid_account' && known) row._parentcustomerid_value = target![2]!.toLowerCase();
        else throw new ODataError(400, '0x80040217', `The ${bind[1]} binding to '${String(value)}' does not resolve to a record.`);
        continue;
      }
      checkProp(set, key, 'does not exist on type');
      if (key === SETS[set].key || key.startsWith('_')) throw bad(`The property '${key}' cannot be set.`);
      if (value !== null && typeof value !== 'string' && typeof value !== 'number') throw bad(`The property '${key}' has a value of the wrong type.`);
      row[key] = value;
    }
    return row;
  }

  /** A row as the Web API shows it: the selected properties (or all), expansions, formatted values when asked. */
  #project(set: SetName, row: Row, options: Options, prefer: string): Record<string, unknown> {
    const props = options.select ?? [...SETS[set].props];
    for (const p of props) checkProp(set, p);
    const out: Record<string, unknown> = { '@odata.etag': 'W/"1001"', [SETS[set].key]: row[SETS[set].key] };
    for (const p of props) out[p] = row[p] ?? null;
    if (/FormattedValue/.test(prefer)) {
      if ('statecode' in out && set === 'incidents') out['statecode@OData.Community.Display.V1.FormattedValue'] = ['Active', 'Resolved', 'Cancelled'][Number(row.statecode)] ?? '';
      if ('statecode' in out && set !== 'incidents') out['statecode@OData.Community.Display.V1.FormattedValue'] = ['Open', 'Completed', 'Canceled'][Number(row.statecode)] ?? '';
      if ('activitytypecode' in out) out['activitytypecode@OData.Community.Display.V1.FormattedValue'] = row.activitytypecode === 'task' ? 'Task' : String(row.activitytypecode);
    }
    for (const expand of options.expand) {
      if (set !== 'contacts' || expand.path !== 'parentcustomerid_account') throw bad(`Could not find a property named '${expand.path}' on type 'Microsoft.Dynamics.CRM.${SETS[set].type}'.`);
      const account = this.accounts.find((a) => a.accountid === row._parentcustomerid_value);
      out[expand.path] = account ? this.#project('accounts', account, { ...expand.options, expand: [] }, '') : null;
    }
    return out;
  }

  #page(url: URL): string {
    const id = url.searchParams.get('id');
    const etn = url.searchParams.get('etn');
    const record = id && etn === 'contact' ? this.contacts.find((c) => c.contactid === id) : undefined;
    const account = id && etn === 'account' ? this.accounts.find((a) => a.accountid === id) : undefined;
    const v = (x: unknown) => escapeHtml(x == null ? '' : String(x));
    const field = (label: string, value: unknown) => `<label>${label}<input value="${v(value)}"></label>`;
    let main: string;
    if (record) {
      const tasks = this.tasksOf(record.contactid)
        .map((t) => `<li><strong>${v(t.subject)}</strong> <span class="sub">${v(t.actualend ?? t.scheduledend)}</span></li>`)
        .join('');
      main = `<div class="bar"><a href="main.aspx?appid=demo">← Contacts</a></div>
       <h1 id="record-name">${v(record.fullname)}</h1><p class="sub">Contact · ${v(record.jobtitle ?? 'Customer')}</p>
       <form class="form" onsubmit="return false">${field('Full name', record.fullname)}${field('Job title', record.jobtitle)}${field('Mobile phone', record.mobilephone)}${field('Business phone', record.telephone1)}${field('Email', record.emailaddress1)}
       <label class="wide">Notes<textarea id="notes" rows="3"></textarea></label></form>
       <h2>Timeline</h2><ul id="timeline">${tasks}</ul>`;
    } else if (account) {
      main = `<div class="bar"><a href="main.aspx?appid=demo">← Contacts</a></div><h1 id="record-name">${v(account.name)}</h1><p class="sub">Account</p>`;
    } else {
      const rows = this.contacts
        .slice(0, 50)
        .map((c) => `<tr><td><a href="main.aspx?pagetype=entityrecord&amp;etn=contact&amp;id=${v(c.contactid)}">${v(c.fullname)}</a></td><td>${v(c.mobilephone ?? c.telephone1 ?? c.telephone2)}</td><td>${v(c.emailaddress1)}</td></tr>`)
        .join('');
      main = `<div class="bar"><strong>Active Contacts</strong><span class="count">${this.contacts.length} records</span></div>
       <table><thead><tr><th>Full name</th><th>Phone</th><th>Email</th></tr></thead><tbody>${rows}</tbody></table>
       <label class="wide">Notes<textarea id="notes" rows="3"></textarea></label>`;
    }
    const title = record ? v(record.fullname) : account ? v(account.name) : 'Contacts';
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dynamics 365 · ${title}</title>
<style>
body{margin:0;font:14px/1.45 "Segoe UI",system-ui,sans-serif;background:#faf9f8;color:#323130}
header{background:#0f1c3f;color:#fff;padding:10px 20px;font-weight:600;display:flex;gap:16px;align-items:center}
header span{font-weight:400;opacity:.8}
.shell{display:grid;grid-template-columns:200px 1fr;min-height:calc(100vh - 42px)}
nav{background:#f3f2f1;border-right:1px solid #edebe9;padding:12px 0}
nav a{display:block;padding:6px 20px;color:#323130;text-decoration:none}
nav a.on{background:#e1dfdd;font-weight:600}
main{padding:16px 24px}
.bar{display:flex;gap:12px;align-items:center;margin-bottom:12px}
.count{color:#605e5c}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #edebe9}
th{font-weight:600;color:#605e5c}
a{color:#0f6cbd}
.sub{color:#605e5c;margin-top:-8px}
.form{display:grid;grid-template-columns:1fr 1fr;gap:12px;max-width:720px;background:#fff;padding:16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
label{display:grid;gap:4px;color:#605e5c}
.wide{grid-column:1/-1;margin-top:12px}
input,textarea{font:inherit;padding:6px 8px;border:1px solid #8a8886;border-radius:2px;color:#323130}
</style></head><body>
<header>Dynamics 365 <span>Customer Service workspace</span></header>
<div class="shell"><nav><a href="main.aspx?appid=demo" class="on">Contacts</a><a href="#">Accounts</a><a href="#">Cases</a><a href="#">Queues</a></nav>
<main>${main}</main></div></body></html>`;
  }
}

// ---------------------------------------------------------------------------
// Query options, parsed with @odata/parser

interface Options {
  filter?: Node;
  select?: string[];
  orderBy: { prop: string; direction: 1 | -1 }[];
  top?: number;
  expand: { path: string; options: Options }[];
}

const KNOWN_OPTIONS = new Set(['$filter', '$select', '$orderby', '$top', '$expand', '$skiptoken', '$count']);

function parseOption(name: string, value: string): Node {
  try {
    const ast = defaultParser.query(`${name}=${encodeURI(value)}`) as unknown as { value: { options: Node[] } };
    const option = ast.value.options[0];
    if (!option) throw new Error('empty');
    return option;
  } catch {
    throw bad(`Syntax error in ${name}: '${value}'.`);
  }
}

function readOptions(url: URL): Options {
  for (const key of url.searchParams.keys()) if (!KNOWN_OPTIONS.has(key)) throw bad(`The query parameter ${key} is not supported.`);
  const options: Options = { orderBy: [], expand: [] };
  const filter = url.searchParams.get('$filter');
  if (filter !== null) {
    try {
      options.filter = defaultParser.filter(filter) as unknown as Node;
    } catch {
      throw bad(`Syntax error in $filter: '${filter}'.`);
    }
  }
  const select = url.searchParams.get('$select');
  if (select !== null) options.select = selectItems(parseOption('$select', select));
  const orderby = url.searchParams.get('$orderby');
  if (orderby !== null) {
    const node = parseOption('$orderby', orderby) as Node & { value: { items: { value: { expr: Node; direction: number } }[] } };
    options.orderBy = node.value.items.map((item) => ({ prop: decodeURIComponent(item.value.expr.raw), direction: item.value.direction < 0 ? -1 : 1 }));
  }
  const top = url.searchParams.get('$top');
  if (top !== null) options.top = Number((parseOption('$top', top).value as Node).raw);
  const expand = url.searchParams.get('$expand');
  if (expand !== null) {
    const node = parseOption('$expand', expand) as Node & { value: { items: { value: { path: { value: { value: { name: string } }[] }; options?: Node[] } }[] } };
    options.expand = node.value.items.map((item) => {
      const nested: Options = { orderBy: [], expand: [] };
      for (const o of item.value.options ?? []) if (o.type === 'Select') nested.select = selectItems(o);
      return { path: item.value.path.value.map((p) => p.value.name).join('/'), options: nested };
    });
  }
  return options;
}

const selectItems = (node: Node) => (node.value as { items: Node[] }).items.map((item) => decodeURIComponent(item.raw));

function checkProp(set: SetName, prop: string, words = 'could not be found on type'): void {
  if (!(SETS[set].props as readonly string[]).includes(prop)) throw bad(`The property '${prop}' ${words} 'Microsoft.Dynamics.CRM.${SETS[set].type}'.`);
}

// ---------------------------------------------------------------------------
// $filter evaluation over a row

type Value = string | number | boolean | null;

function evaluate(node: Node, row: Row, set: SetName): Value {
  const pair = node.value as { left: Node; right: Node };
  switch (node.type) {
    case 'OrExpression':
      return truthy(evaluate(pair.left, row, set)) || truthy(evaluate(pair.right, row, set));
    case 'AndExpression':
      return truthy(evaluate(pair.left, row, set)) && truthy(evaluate(pair.right, row, set));
    case 'BoolParenExpression':
    case 'ParenExpression':
      return evaluate(node.value as Node, row, set);
    case 'NotExpression':
      return !truthy(evaluate(node.value as Node, row, set));
    case 'EqualsExpression':
      return compare(evaluate(pair.left, row, set), evaluate(pair.right, row, set)) === 0;
    case 'NotEqualsExpression':
      return compare(evaluate(pair.left, row, set), evaluate(pair.right, row, set)) !== 0;
    case 'LesserThanExpression':
      return compare(evaluate(pair.left, row, set), evaluate(pair.right, row, set)) < 0;
    case 'GreaterThanExpression':
      return compare(evaluate(pair.left, row, set), evaluate(pair.right, row, set)) > 0;
    case 'MethodCallExpression': {
      const call = node.value as { method: string; parameters: Node[] };
      const [a, b] = call.parameters.map((p) => evaluate(p, row, set));
      if (call.method === 'tolower') return typeof a === 'string' ? a.toLowerCase() : null;
      if (typeof a !== 'string' || typeof b !== 'string') return false;
      // Dataverse compares text without regard to case.
      const [x, y] = [a.toLowerCase(), b.toLowerCase()];
      if (call.method === 'contains') return x.includes(y);
      if (call.method === 'startswith') return x.startsWith(y);
      if (call.method === 'endswith') return x.endsWith(y);
      throw bad(`The function '${call.method}' is not supported.`);
    }
    case 'FirstMemberExpression':
    case 'MemberExpression':
    case 'PropertyPathExpression': {
      const prop = decodeURIComponent(node.raw);
      checkProp(set, prop);
      return row[prop] ?? null;
    }
    case 'Literal':
      return literal(node);
    default:
      throw bad(`The query node '${node.type}' is not supported by this org.`);
  }
}

function literal(node: Node): Value {
  const raw = decodeURIComponent(node.raw);
  if (node.value === 'null' || raw === 'null') return null;
  if (node.value === 'Edm.String') return raw.slice(1, -1).replace(/''/g, "'");
  if (node.value === 'Edm.Guid') return raw.toLowerCase();
  if (node.value === 'Edm.Boolean') return raw === 'true';
  if (typeof node.value === 'string' && /^Edm\.(S?Byte|Int\d+|Decimal|Double|Single)$/.test(node.value)) return Number(raw);
  throw bad(`The literal ${raw} is not supported by this org.`);
}

const truthy = (value: Value) => value === true;

function compare(a: Value | undefined, b: Value | undefined): number {
  if (a == null || b == null) return a == null && b == null ? 0 : a == null ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase().localeCompare(b.toLowerCase());
  return Number(a) - Number(b);
}
