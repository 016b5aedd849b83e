/**
 * A fake Dynamics 365 org on 127.0.0.1: the unified-interface page
 * (main.aspx, which sets a session cookie) and the Dataverse Web API's
 * `contacts` query answered in the documented shape (`@odata.context`,
 * `value`). Mobile phones are stored as people type them. The API refuses
 * requests without the session cookie, as a real org does.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeContact {
  contactid: string;
  fullname: string;
  emailaddress1: string | null;
  mobilephone: string | null;
}

const contact = (fullname: string, mobilephone: string | null, email?: string): FakeContact => ({
  contactid: randomUUID(),
  fullname,
  emailaddress1: email ?? null,
  mobilephone,
});

export const CONTACTS: FakeContact[] = [
  contact('Maria Jansen', '06-1234 5678', 'maria.jansen@example.nl'),
  contact('Piet Smit', '06 8765 5678'),
  contact('Tom Becker', '0049 151 23456789', 'tom.becker@example.de'),
  contact('Aisha Khan', '+44 7700 900 123'),
  contact('Jan de Boer', '+31 6 55512345', 'jan@example.nl'),
  contact('Jan de Boer jr.', '06-555 123 45', 'jan.jr@example.nl'),
  contact('No Phone', null),
];

export interface FakeDynamics {
  origin: string;
  orgUrl: string;
  /** 'fail' answers every API call with 500. */
  mode: 'ok' | 'fail';
  queries: string[];
  close(): Promise<void>;
}

export async function startFakeDynamics(): Promise<FakeDynamics> {
  const session = randomUUID();
  const state: FakeDynamics = { origin: '', orgUrl: '', mode: 'ok', queries: [], close: async () => {} };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', state.origin);
    if (url.pathname === '/main.aspx') {
      const id = url.searchParams.get('id');
      const record = id ? CONTACTS.find((c) => c.contactid === id) : undefined;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': `CrmOwinAuth=${session}; Path=/; HttpOnly; SameSite=Lax` });
      res.end(`<!doctype html><html lang="en"><head><title>Dynamics 365 · ${record ? 'Contact' : 'Contacts'}</title></head>
<body style="margin:0;font:14px system-ui;background:#faf9f8"><header style="background:#0f1c3f;color:#fff;padding:12px 20px">Dynamics 365 · Customer Service</header>
<main style="padding:20px">${record ? `<h1 id="record-name">${record.fullname}</h1><p>Mobile phone: ${record.mobilephone}</p>` : '<h1>Active contacts</h1>'}</main></body></html>`);
      return;
    }
    if (url.pathname === '/api/data/v9.2/contacts') {
      state.queries.push(url.search);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; odata.metadata=minimal', 'OData-Version': '4.0' });
        res.end(JSON.stringify(body));
      };
      if (!(req.headers.cookie ?? '').includes(`CrmOwinAuth=${session}`)) return json(401, { error: { code: '0x80040220', message: 'Not signed in.' } });
      if (state.mode === 'fail') return json(500, { error: { code: '0x80040216', message: 'An unexpected error occurred.' } });
      const filter = url.searchParams.get('$filter') ?? '';
      const wanted = [...filter.matchAll(/contains\(mobilephone,'([^']*)'\)/g)].map((m) => m[1]!);
      const value = CONTACTS.filter((c) => c.mobilephone && wanted.some((w) => c.mobilephone!.includes(w))).map((c) => ({ '@odata.etag': 'W/"1001"', ...c }));
      return json(200, { '@odata.context': `${state.origin}/api/data/v9.2/$metadata#contacts(contactid,fullname,emailaddress1,mobilephone)`, value });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.orgUrl = `${state.origin}/main.aspx?appid=deskbell-e2e`;
  state.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}
