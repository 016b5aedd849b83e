/**
 * A small Dynamics 365 look-alike on 127.0.0.1, for the demo and the e2e
 * suite: the unified-interface page (main.aspx: a contacts grid, or one
 * contact's form), which sets a session cookie, and the Dataverse Web API's
 * `contacts` query in the documented shape (`@odata.context`, `value`). The
 * API refuses requests without the session cookie, as a real org does.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OrgContact {
  contactid: string;
  fullname: string;
  emailaddress1: string | null;
  mobilephone: string | null;
  jobtitle?: string;
  company?: string;
}

export const orgContact = (fullname: string, mobilephone: string | null, email?: string, extra: Partial<OrgContact> = {}): OrgContact => ({
  contactid: randomUUID(),
  fullname,
  emailaddress1: email ?? null,
  mobilephone,
  ...extra,
});

export interface DynamicsOrg {
  origin: string;
  orgUrl: string;
  /** 'fail' answers every API call with 500. */
  mode: 'ok' | 'fail';
  queries: string[];
  close(): Promise<void>;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(contacts: readonly OrgContact[], record: OrgContact | undefined): string {
  const rows = contacts
    .map((c) => `<tr><td><a href="main.aspx?pagetype=entityrecord&amp;etn=contact&amp;id=${c.contactid}">${escape(c.fullname)}</a></td><td>${escape(c.company ?? '')}</td><td>${escape(c.mobilephone ?? '')}</td><td>${escape(c.emailaddress1 ?? '')}</td></tr>`)
    .join('');
  const field = (label: string, value: string | null | undefined) => `<label>${label}<input value="${escape(value ?? '')}"></label>`;
  const main = record
    ? `<div class="bar"><a href="main.aspx?appid=demo">← Contacts</a></div>
       <h1 id="record-name">${escape(record.fullname)}</h1><p class="sub">Contact · ${escape(record.company ?? 'Customer')}</p>
       <form class="form" onsubmit="return false">${field('Full name', record.fullname)}${field('Job title', record.jobtitle)}${field('Mobile phone', record.mobilephone)}${field('Email', record.emailaddress1)}
       <label class="wide">Notes<textarea id="notes" rows="5"></textarea></label></form>`
    : `<div class="bar"><strong>Active Contacts</strong><span class="count">${contacts.length} records</span></div>
       <table><thead><tr><th>Full name</th><th>Company</th><th>Mobile phone</th><th>Email</th></tr></thead><tbody>${rows}</tbody></table>
       <label class="wide">Notes<textarea id="notes" rows="3"></textarea></label>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dynamics 365 · ${record ? escape(record.fullname) : 'Contacts'}</title>
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

export async function startDynamicsOrg(contacts: readonly OrgContact[], port = 0): Promise<DynamicsOrg> {
  const session = randomUUID();
  const org: DynamicsOrg = { origin: '', orgUrl: '', mode: 'ok', queries: [], close: async () => {} };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', org.origin);
    if (url.pathname === '/' || url.pathname === '/main.aspx') {
      if (url.pathname === '/') return void res.writeHead(302, { location: '/main.aspx?appid=demo' }).end();
      const id = url.searchParams.get('id');
      const record = id ? contacts.find((c) => c.contactid === id) : undefined;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': `CrmOwinAuth=${session}; Path=/; HttpOnly; SameSite=Lax` });
      return void res.end(page(contacts, record));
    }
    if (url.pathname === '/api/data/v9.2/contacts') {
      org.queries.push(url.search);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; odata.metadata=minimal', 'OData-Version': '4.0' });
        res.end(JSON.stringify(body));
      };
      if (!(req.headers.cookie ?? '').includes(`CrmOwinAuth=${session}`)) return json(401, { error: { code: '0x80040220', message: 'Not signed in.' } });
      if (org.mode === 'fail') return json(500, { error: { code: '0x80040216', message: 'An unexpected error occurred.' } });
      const filter = url.searchParams.get('$filter') ?? '';
      const wanted = [...filter.matchAll(/contains\(mobilephone,'([^']*)'\)/g)].map((m) => m[1]!);
      const value = contacts
        .filter((c) => c.mobilephone && wanted.some((w) => c.mobilephone!.includes(w)))
        .map(({ contactid, fullname, emailaddress1, mobilephone }) => ({ '@odata.etag': 'W/"1001"', contactid, fullname, emailaddress1, mobilephone }));
      return json(200, { '@odata.context': `${org.origin}/api/data/v9.2/$metadata#contacts(contactid,fullname,emailaddress1,mobilephone)`, value });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  org.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  org.orgUrl = `${org.origin}/main.aspx?appid=demo`;
  org.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return org;
}
