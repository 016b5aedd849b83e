/**
 * A Salesforce org on 127.0.0.1 for the demo and the tests: Lightning pages
 * (which set the `sid` session cookie, HttpOnly, as the real My Domain does)
 * and the REST API's `query` and `sobjects` resources for Contact, Account,
 * Case and Task.
 *
 * Every SOQL query is parsed with a real SOQL parser (`soql-parser-js`) and
 * evaluated over the rows: unknown objects or fields are Salesforce's
 * `INVALID_FIELD` / `INVALID_TYPE` 400s, `LIKE` follows SOQL's wildcards and
 * escapes, results come in batches with `nextRecordsUrl`, and the API wants
 * `Authorization: Bearer <sid>`. Faults can be injected as in the Dataverse
 * fake.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import soql, { type Query, type WhereClause, type Condition } from 'soql-parser-js';

// The package is CommonJS: its functions come on the default export.
const { parseQuery } = soql;
import { escapeHtml, FakeOrgBase, readJson, sendJson } from './common';
import type { Seed } from './seed';

type Row = Record<string, string | number | boolean | null>;
const DATA = '/services/data/v60.0/';

const FIELDS: Record<string, { prefix: string; fields: string[]; parents?: Record<string, string> }> = {
  Contact: {
    prefix: '003',
    fields: ['Id', 'Name', 'FirstName', 'LastName', 'Email', 'MobilePhone', 'Phone', 'HomePhone', 'Title', 'AccountId', 'CreatedDate'],
    parents: { Account: 'AccountId' },
  },
  Account: { prefix: '001', fields: ['Id', 'Name', 'Phone', 'Website'] },
  Case: { prefix: '500', fields: ['Id', 'CaseNumber', 'Subject', 'Status', 'IsClosed', 'ContactId', 'CreatedDate'] },
  Task: {
    prefix: '00T',
    fields: ['Id', 'Subject', 'Description', 'Status', 'Priority', 'TaskSubtype', 'ActivityDate', 'IsClosed', 'WhoId', 'CreatedDate'],
  },
};
const WRITABLE: Record<string, string[]> = {
  Contact: ['FirstName', 'LastName', 'Email', 'MobilePhone', 'Phone', 'HomePhone', 'Title', 'AccountId'],
  Task: ['Subject', 'Description', 'Status', 'Priority', 'TaskSubtype', 'ActivityDate', 'WhoId'],
};

class SalesforceError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new SalesforceError(400, 'MALFORMED_QUERY', message);

export class FakeSalesforce extends FakeOrgBase {
  readonly tables: Record<string, Row[]> = { Contact: [], Account: [], Case: [], Task: [] };
  sid = `00D${randomBytes(6).toString('hex')}!${randomBytes(24).toString('base64url')}`;
  /** The most records one query batch returns (Salesforce: 2000, or less when asked). */
  batchLimit = 2000;
  #counter = 0;
  readonly #cursors = new Map<string, { rows: Row[]; query: Query }>();

  get homeUrl(): string {
    return `${this.origin}/lightning/page/home`;
  }

  contact(name: string): Row {
    const row = this.tables.Contact!.find((c) => c.Name === name);
    if (!row) throw new Error(`no contact ${name}`);
    return row;
  }

  recordUrl(object: string, id: unknown): string {
    return `${this.origin}/lightning/r/${object}/${String(id)}/view`;
  }

  tasksOf(contactId: unknown): Row[] {
    return this.tables.Task!.filter((t) => t.WhoId === contactId);
  }

  expireSession(): void {
    this.sid = `00D${randomBytes(6).toString('hex')}!${randomBytes(24).toString('base64url')}`;
  }

  /** An 18-character record id with the object's key prefix. */
  #id(object: string): string {
    return `${FIELDS[object]!.prefix}5g00000${String(++this.#counter).padStart(5, '0')}AAA`.slice(0, 18);
  }

  static async start(seed: Seed, port = 0): Promise<FakeSalesforce> {
    const org = new FakeSalesforce();
    const accountIds = new Map<string, string>();
    const day = (n: number) => new Date(Date.UTC(2026, 10, 1) - n * 86_400_000).toISOString().replace('Z', '+0000');
    for (const a of seed.accounts) {
      const id = org.#id('Account');
      accountIds.set(a.key, id);
      org.tables.Account!.push({ Id: id, Name: a.name, Phone: a.phone ?? null, Website: a.website ?? null });
    }
    seed.contacts.forEach((c, i) => {
      const id = org.#id('Contact');
      org.tables.Contact!.push({
        Id: id,
        Name: `${c.first} ${c.last}`,
        FirstName: c.first,
        LastName: c.last,
        Email: c.email ?? null,
        MobilePhone: c.mobile ?? null,
        Phone: c.business ?? null,
        HomePhone: c.home ?? null,
        Title: c.title ?? null,
        AccountId: c.account ? (accountIds.get(c.account) ?? null) : null,
        CreatedDate: day(i % 900),
      });
      for (const k of c.cases ?? []) {
        org.tables.Case!.push({ Id: org.#id('Case'), CaseNumber: k.number, Subject: k.title, Status: k.state === 'active' ? 'New' : 'Closed', IsClosed: k.state !== 'active', ContactId: id, CreatedDate: k.createdOn.replace('Z', '+0000') });
      }
      for (const subject of c.tasks ?? []) {
        org.tables.Task!.push({ Id: org.#id('Task'), Subject: subject, Description: null, Status: 'Not Started', Priority: 'Normal', TaskSubtype: 'Call', ActivityDate: day(-3).slice(0, 10), IsClosed: false, WhoId: id, CreatedDate: day(1) });
      }
    });
    await org.listen((req, res, url) => org.#handle(req, res, url), port);
    return org;
  }

  async #handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/' || url.pathname === '/lightning') return void res.writeHead(302, { location: '/lightning/page/home' }).end();
    if (url.pathname.startsWith('/lightning/')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': `sid=${this.sid}; Path=/; HttpOnly; SameSite=Lax` });
      return void res.end(this.#page(url));
    }
    if (!url.pathname.startsWith(DATA)) return void res.writeHead(404).end();
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: decodeURIComponent(url.search) });
    const expired = () => sendJson(res, 401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    if (req.headers.authorization !== `Bearer ${this.sid}`) return expired();
    const fault = this.takeFault(method, url);
    if (fault?.kind === 'signin') return expired();
    if (fault?.kind === 'throttle') return sendJson(res, 429, [{ message: 'Too many requests', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], { 'Retry-After': String(fault.retryAfterS ?? 2) });
    if (fault?.kind === '500') return sendJson(res, 500, [{ message: 'An unexpected error occurred.', errorCode: 'UNKNOWN_EXCEPTION' }]);
    try {
      const answer = await this.#api(req, url, method);
      if (fault?.kind === 'lost') return sendJson(res, 500, [{ message: 'An unexpected error occurred.', errorCode: 'UNKNOWN_EXCEPTION' }]);
      sendJson(res, answer.status, answer.body);
    } catch (error) {
      if (error instanceof SalesforceError) return sendJson(res, error.status, [{ message: error.message, errorCode: error.errorCode }]);
      throw error;
    }
  }

  async #api(req: IncomingMessage, url: URL, method: string): Promise<{ status: number; body: unknown }> {
    const rest = url.pathname.slice(DATA.length);
    if (method === 'GET' && rest === 'query') {
      const q = url.searchParams.get('q');
      if (!q) throw invalid('A query string is required (q).');
      let query: Query;
      try {
        query = parseQuery(q);
      } catch (error) {
        throw invalid(`unexpected token in the query: ${(error as Error).message.split('\n')[0]}`);
      }
      const batch = Math.min(this.batchLimit, Number(/batchSize=(\d+)/.exec(String(req.headers['sforce-query-options'] ?? ''))?.[1] ?? 2000));
      return { status: 200, body: this.#batch(this.#run(query), query, 0, batch) };
    }
    const cursor = /^query\/(01g\w+)-(\d+)$/.exec(rest);
    if (method === 'GET' && cursor) {
      const saved = this.#cursors.get(cursor[1]!);
      if (!saved) throw new SalesforceError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
      return { status: 200, body: this.#batch(saved.rows, saved.query, Number(cursor[2]), this.batchLimit, cursor[1]) };
    }
    const create = /^sobjects\/(Contact|Task)$/.exec(rest);
    if (method === 'POST' && create) {
      const object = create[1]!;
      const body = (await readJson(req).catch(() => undefined)) as Record<string, unknown> | undefined;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new SalesforceError(400, 'JSON_PARSER_ERROR', 'The request body is not a JSON object.');
      const row: Row = { Id: this.#id(object), CreatedDate: new Date().toISOString().replace('Z', '+0000') };
      for (const [key, value] of Object.entries(body)) {
        if (!WRITABLE[object]!.includes(key)) throw new SalesforceError(400, 'INVALID_FIELD', `No such column '${key}' on sobject of type ${object}`);
        if (value !== null && typeof value !== 'string') throw new SalesforceError(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of ${key}`);
        row[key] = value;
      }
      if (object === 'Contact') {
        if (!row.LastName) throw new SalesforceError(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [LastName]');
        row.Name = [row.FirstName, row.LastName].filter(Boolean).join(' ');
      } else {
        if (!this.tables.Contact!.some((c) => c.Id === row.WhoId)) throw new SalesforceError(400, 'INVALID_CROSS_REFERENCE_KEY', 'Name ID: id value of incorrect type');
        if (!row.Subject) throw new SalesforceError(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [Subject]');
        row.IsClosed = row.Status === 'Completed';
      }
      this.tables[object]!.push(row);
      return { status: 201, body: { id: row.Id, success: true, errors: [] } };
    }
    throw new SalesforceError(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  /** Rows a query selects, filtered and ordered (LIMIT applied), before batching. */
  #run(query: Query): Row[] {
    const object = query.sObject ?? '';
    const table = this.tables[object];
    const meta = FIELDS[object];
    if (!table || !meta) throw new SalesforceError(400, 'INVALID_TYPE', `sObject type '${object}' is not supported.`);
    for (const f of query.fields ?? []) this.#field(object, fieldName(f));
    let rows = query.where ? table.filter((r) => this.#where(object, r, query.where!)) : [...table];
    for (const order of [...(query.orderBy ? (Array.isArray(query.orderBy) ? query.orderBy : [query.orderBy]) : [])].reverse()) {
      const field = (order as { field?: string }).field ?? '';
      this.#field(object, field);
      const dir = (order as { order?: string }).order === 'DESC' ? -1 : 1;
      rows.sort((a, b) => compare(this.#value(object, a, field) ?? null, this.#value(object, b, field) ?? null) * dir);
    }
    if (typeof query.limit === 'number') rows = rows.slice(0, query.limit);
    return rows;
  }

  #batch(rows: Row[], query: Query, offset: number, size: number, locator?: string) {
    const page = rows.slice(offset, offset + size);
    const done = offset + size >= rows.length;
    let next: string | undefined;
    if (!done) {
      const id = locator ?? `01g${randomBytes(6).toString('hex')}`;
      this.#cursors.set(id, { rows, query });
      next = `${DATA}query/${id}-${offset + size}`;
    }
    const object = query.sObject!;
    return {
      totalSize: rows.length,
      done,
      ...(next ? { nextRecordsUrl: next } : {}),
      records: page.map((row) => {
        const out: Record<string, unknown> = { attributes: { type: object, url: `${DATA}sobjects/${object}/${String(row.Id)}` } };
        for (const f of query.fields ?? []) {
          const name = fieldName(f);
          const [parent, child] = name.split('.');
          if (child) {
            const parentRow = this.#parent(object, row, parent!);
            const nested = (out[parent!] ??= parentRow ? { attributes: { type: parent, url: `${DATA}sobjects/${parent}/${String(parentRow.Id)}` } } : null) as Record<string, unknown> | null;
            if (nested && parentRow) nested[child] = parentRow[child] ?? null;
          } else out[name] = row[name] ?? null;
        }
        return out;
      }),
    };
  }

  #parent(object: string, row: Row, relation: string): Row | undefined {
    const key = FIELDS[object]?.parents?.[relation];
    if (!key) throw new SalesforceError(400, 'INVALID_FIELD', `Didn't understand relationship '${relation}' in field path.`);
    return this.tables[relation]?.find((r) => r.Id === row[key]);
  }

  /** Checks a field path exists (as Salesforce does before running anything). */
  #field(object: string, name: string): void {
    const [first, child] = name.split('.');
    if (child) {
      const key = FIELDS[object]?.parents?.[first!];
      if (!key || !FIELDS[first!]!.fields.includes(child)) throw new SalesforceError(400, 'INVALID_FIELD', `No such column '${name}' on entity '${object}'.`);
      return;
    }
    if (!FIELDS[object]!.fields.includes(name)) throw new SalesforceError(400, 'INVALID_FIELD', `No such column '${name}' on entity '${object}'.`);
  }

  #value(object: string, row: Row, name: string): Row[string] | undefined {
    const [first, child] = name.split('.');
    if (child) return this.#parent(object, row, first!)?.[child] ?? null;
    return row[name];
  }

  /**
   * The parser gives a WHERE clause as a right-leaning chain of conditions
   * with parenthesis counts; it is read back into tokens and evaluated with
   * SOQL's precedence (AND before OR, parentheses first).
   */
  #where(object: string, row: Row, where: WhereClause): boolean {
    const tokens: (string | boolean)[] = [];
    let node: WhereClause | undefined = where;
    while (node) {
      const left = node.left as Condition & { openParen?: number; closeParen?: number; field?: string; operator?: string; value?: string | string[]; literalType?: string | string[] };
      for (let i = 0; i < (left.openParen ?? 0); i++) tokens.push('(');
      if (left.field !== undefined) {
        this.#field(object, left.field);
        tokens.push(matches(this.#value(object, row, left.field), left.operator ?? '=', left.value, left.literalType));
      }
      for (let i = 0; i < (left.closeParen ?? 0); i++) tokens.push(')');
      const op = (node as { operator?: string }).operator;
      if (op) tokens.push(op.toUpperCase());
      node = (node as { right?: WhereClause }).right;
    }
    let i = 0;
    const or = (): boolean => {
      let value = and();
      while (tokens[i] === 'OR') {
        i++;
        const right = and();
        value = value || right;
      }
      return value;
    };
    const and = (): boolean => {
      let value = atom();
      while (tokens[i] === 'AND') {
        i++;
        const right = atom();
        value = value && right;
      }
      return value;
    };
    const atom = (): boolean => {
      const token = tokens[i++];
      if (token === '(') {
        const value = or();
        i++; // ')'
        return value;
      }
      if (typeof token !== 'boolean') throw invalid(`unexpected token '${String(token)}' in the WHERE clause`);
      return token;
    };
    return or();
  }

  #page(url: URL): string {
    const v = (x: unknown) => escapeHtml(x == null ? '' : String(x));
    const record = /^\/lightning\/r\/(\w+)\/(\w+)\/view$/.exec(url.pathname);
    const row = record ? this.tables[record[1]!]?.find((r) => r.Id === record[2]) : undefined;
    let main: string;
    if (row && record![1] === 'Contact') {
      const tasks = this.tasksOf(row.Id)
        .map((t) => `<li><strong>${v(t.Subject)}</strong> <span class="sub">${v(t.Status)} · ${v(t.ActivityDate)}</span></li>`)
        .join('');
      main = `<p class="sub">Contact</p><h1 id="record-name">${v(row.Name)}</h1>
        <dl><dt>Mobile</dt><dd>${v(row.MobilePhone)}</dd><dt>Phone</dt><dd>${v(row.Phone)}</dd><dt>Email</dt><dd>${v(row.Email)}</dd></dl>
        <h2>Activity</h2><ul id="timeline">${tasks}</ul>`;
    } else if (row) {
      main = `<p class="sub">${v(record![1])}</p><h1 id="record-name">${v(row.Name ?? row.Subject ?? row.CaseNumber)}</h1>`;
    } else {
      const rows = this.tables.Contact!.slice(0, 50)
        .map((c) => `<tr><td><a href="/lightning/r/Contact/${v(c.Id)}/view">${v(c.Name)}</a></td><td>${v(c.MobilePhone ?? c.Phone ?? c.HomePhone)}</td><td>${v(c.Email)}</td></tr>`)
        .join('');
      main = `<h1>Recently Viewed Contacts</h1><p class="sub">${this.tables.Contact!.length} items</p>
        <table><thead><tr><th>Name</th><th>Phone</th><th>Email</th></tr></thead><tbody>${rows}</tbody></table>
        <label>Notes<textarea id="notes" rows="3"></textarea></label>`;
    }
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${row ? v(row.Name ?? row.Subject) : 'Home'} | Salesforce</title>
<style>
body{margin:0;font:13px/1.5 "Salesforce Sans",system-ui,sans-serif;background:#f3f3f3;color:#181818}
header{background:#fff;border-bottom:3px solid #0176d3;padding:10px 20px;font-weight:700;color:#0176d3}
main{margin:16px;padding:16px 20px;background:#fff;border-radius:4px;box-shadow:0 2px 2px rgba(0,0,0,.1)}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e5e5e5}
a{color:#0b5cab}.sub{color:#444;margin:0}dl{display:grid;grid-template-columns:120px 1fr;gap:4px}
label{display:grid;gap:4px;margin-top:12px}textarea{font:inherit}
</style></head><body><header>Sales · Service Console</header><main>${main}</main></body></html>`;
  }

}

function fieldName(field: unknown): string {
  const f = field as { type: string; field?: string; rawValue?: string };
  if (f.type === 'Field') return f.field!;
  if (f.type === 'FieldRelationship') return f.rawValue!;
  throw invalid(`field of type ${f.type} is not supported by this org`);
}

/** A SOQL string literal's text: quotes off, backslash escapes read. */
function unquote(raw: string): string {
  return raw.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : `\\${c}`));
}

function literalValue(raw: string, type: string | undefined): Row[string] {
  if (type === 'NULL') return null;
  if (type === 'BOOLEAN') return raw.toLowerCase() === 'true';
  if (type === 'STRING') return unquote(raw).replace(/\\(?![%_])(.)/g, '$1');
  if (type === 'INTEGER' || type === 'DECIMAL') return Number(raw);
  throw invalid(`literal ${raw} of type ${String(type)} is not supported by this org`);
}

/** SOQL LIKE: % and _ wildcards, \% and \_ literal, case-insensitive. */
function likeRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) source += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'is');
}

function matches(actual: Row[string] | undefined, operator: string, value: string | string[] | undefined, type: string | string[] | undefined): boolean {
  const op = operator.toUpperCase();
  if (op === 'LIKE') return typeof actual === 'string' && typeof value === 'string' && likeRegex(unquote(value)).test(actual);
  if (op === 'IN' || op === 'NOT IN') {
    const list = (Array.isArray(value) ? value : [value ?? '']).map((v, i) => literalValue(v, Array.isArray(type) ? type[i] : type));
    const found = list.some((v) => compare(actual ?? null, v) === 0);
    return op === 'IN' ? found : !found;
  }
  const expected = literalValue(String(value), Array.isArray(type) ? type[0] : type);
  const c = compare(actual ?? null, expected);
  if (op === '=') return c === 0;
  if (op === '!=') return c !== 0;
  if (actual == null || expected == null) return false;
  if (op === '<') return c < 0;
  if (op === '>') return c > 0;
  if (op === '<=') return c <= 0;
  if (op === '>=') return c >= 0;
  throw invalid(`operator ${operator} is not supported by this org`);
}

function compare(a: Row[string], b: Row[string]): number {
  if (a == null || b == null) return a == null && b == null ? 0 : a == null ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase().localeCompare(b.toLowerCase());
  return Number(a) - Number(b);
}
