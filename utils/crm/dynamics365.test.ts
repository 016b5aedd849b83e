import { describe, expect, it } from 'vitest';
import { contactsQuery, digitTails, isDynamicsPage, parseContacts } from './dynamics365';

describe('Dynamics 365 adapter', () => {
  it('knows an org page', () => {
    expect(isDynamicsPage('https://contoso.crm4.dynamics.com/main.aspx?appid=1')).toBe(true);
    expect(isDynamicsPage('http://127.0.0.1:4000/main.aspx')).toBe(true);
    expect(isDynamicsPage('https://app.hubspot.com/contacts')).toBe(false);
  });

  it('asks for the last four digits however they are written', () => {
    expect(digitTails('+31612345678')).toEqual(['5678', '56 78', '56-78', '56.78']);
    const query = decodeURIComponent(contactsQuery(digitTails('+31612345678')));
    expect(query).toContain("$filter=contains(mobilephone,'5678') or contains(mobilephone,'56 78')");
    expect(query).toContain('$select=contactid,fullname,emailaddress1,mobilephone');
    expect(decodeURIComponent(contactsQuery(["5678') or true or ('"]))).not.toContain('or true');
  });

  it('reads the documented answer shape and links each contact to its record', () => {
    const body = {
      '@odata.context': 'https://org.crm.dynamics.com/api/data/v9.2/$metadata#contacts(contactid,fullname,emailaddress1,mobilephone)',
      value: [{ '@odata.etag': 'W/"1"', contactid: '8a3f1c2e-0000-4000-8000-000000000001', fullname: 'Maria Jansen', emailaddress1: 'maria@example.nl', mobilephone: '06-1234 5678' }],
    };
    expect(parseContacts(body, 'https://org.crm.dynamics.com')).toEqual({
      ok: true,
      contacts: [
        {
          id: '8a3f1c2e-0000-4000-8000-000000000001',
          name: 'Maria Jansen',
          email: 'maria@example.nl',
          phone: '06-1234 5678',
          recordUrl: 'https://org.crm.dynamics.com/main.aspx?pagetype=entityrecord&etn=contact&id=8a3f1c2e-0000-4000-8000-000000000001',
        },
      ],
    });
    expect(parseContacts({ error: { message: 'nope' } }, 'x')).toMatchObject({ ok: false, error: expect.stringContaining('unexpected shape') });
    expect(parseContacts({ value: [{ contactid: 'javascript:alert(1)' }] }, 'x').ok).toBe(false);
  });
});
