import { describe, expect, it } from 'vitest';
import { CrmApi } from './api';
import { digitTails, dynamics365, isDynamicsPage, odataString, phoneQuery } from './dynamics365';
import { checkPageRequest } from './dynamics365-page';
import { apiOrigin, isSalesforcePage, soqlString } from './salesforce';
import { orgOfPage } from '.';

describe('CRM pages', () => {
  it('knows a Dynamics 365 org page and a Salesforce page', () => {
    expect(isDynamicsPage('https://contoso.crm4.dynamics.com/main.aspx?appid=1')).toBe(true);
    expect(isDynamicsPage('http://127.0.0.1:4000/main.aspx')).toBe(true);
    expect(isDynamicsPage('https://app.hubspot.com/contacts')).toBe(false);
    expect(isSalesforcePage('https://acme.lightning.force.com/lightning/r/Contact/003000000000001AAA/view')).toBe(true);
    expect(isSalesforcePage('https://acme.my.salesforce.com/home/home.jsp')).toBe(true);
    expect(orgOfPage('https://acme--dev.sandbox.lightning.force.com/lightning/page/home')).toEqual({ crm: 'salesforce', origin: 'https://acme--dev.sandbox.lightning.force.com' });
    expect(orgOfPage('https://example.com/')).toBeUndefined();
  });

  it("takes Salesforce's API and session from the org's My Domain", () => {
    expect(apiOrigin('https://acme.lightning.force.com')).toBe('https://acme.my.salesforce.com');
    expect(apiOrigin('https://acme--dev.sandbox.lightning.force.com')).toBe('https://acme--dev.sandbox.my.salesforce.com');
    expect(apiOrigin('http://127.0.0.1:4100')).toBe('http://127.0.0.1:4100');
  });
});

describe('queries', () => {
  it('asks for the last four digits however they are written, in the three phone fields', () => {
    expect(digitTails('+31612345678')).toEqual(['5678', '56 78', '56-78', '56.78']);
    const query = decodeURIComponent(phoneQuery(digitTails('+31612345678')));
    expect(query).toContain("$filter=contains(mobilephone,'5678') or contains(mobilephone,'56 78')");
    expect(query).toContain("contains(telephone1,'56.78')");
    expect(query).toContain("contains(telephone2,'56-78')");
    expect(query).not.toContain('$top');
  });

  it('escapes text in OData and SOQL literals', () => {
    expect(odataString("O'Neill")).toBe("'O''Neill'");
    expect(soqlString("O'Neill")).toBe("'O\\'Neill'");
    expect(soqlString('100%_\\', true)).toBe("'100\\%\\_\\\\'");
  });

  it('reads only well-formed records (no script links from a hostile page)', async () => {
    const api = new CrmApi({ crm: 'dynamics365', origin: 'https://org.crm.dynamics.com' }, async () => ({ status: 200, body: { value: [{ contactid: 'javascript:alert(1)' }] } }));
    await expect(dynamics365.findByEmail(api, 'a@b.c')).rejects.toMatchObject({ kind: 'shape' });
  });
});

describe("the org tab's request check", () => {
  it('lets through Web API requests only, with only the Prefer header', () => {
    expect(checkPageRequest({ method: 'GET', path: '/api/data/v9.2/contacts?$top=1', headers: { Prefer: 'odata.maxpagesize=500', Cookie: 'x' } })).toEqual({
      method: 'GET',
      path: '/api/data/v9.2/contacts?$top=1',
      headers: { Prefer: 'odata.maxpagesize=500' },
    });
    expect(checkPageRequest({ method: 'DELETE', path: '/api/data/v9.2/contacts(1)' })).toBeUndefined();
    expect(checkPageRequest({ method: 'GET', path: '/api/data/v9.2/../../logout' })).toBeUndefined();
    expect(checkPageRequest({ method: 'GET', path: 'https://evil.example/api/data/v9.2/' })).toBeUndefined();
    expect(checkPageRequest(null)).toBeUndefined();
  });
});
