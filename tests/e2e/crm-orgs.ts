/**
 * The e2e CRM orgs: 5,000 contacts with hand-typed numbers in many formats,
 * 1,200 of them sharing the last four digits of Maria Jansen's mobile, and a
 * few customers with accounts, cases and open activities.
 */
import { FakeDataverse } from '../../demo/fake-crm/dataverse';
import { FakeSalesforce } from '../../demo/fake-crm/salesforce';
import { generateSeed, type SeedContact } from '../../demo/fake-crm/seed';

export const CUSTOMERS: SeedContact[] = [
  {
    first: 'Maria',
    last: 'Jansen',
    mobile: '06-1234 5678',
    email: 'maria.jansen@example.nl',
    title: 'Owner',
    account: 'bakery',
    cases: [
      { number: 'CAS-0107', title: 'Oven warranty', state: 'resolved', createdOn: '2026-10-02T09:00:00Z' },
      { number: 'CAS-0199', title: 'Double charge on invoice', state: 'active', createdOn: '2026-11-20T10:00:00Z' },
    ],
    tasks: ['Call back about the refund'],
  },
  { first: 'Tom', last: 'Becker', business: '+49 151 23456789', email: 'tom.becker@example.de', account: 'becker' },
  { first: 'Jan', last: 'de Boer', mobile: '+31 6 55512345', email: 'jan@example.nl' },
  { first: 'Jan', last: 'de Boer jr.', home: '06-555 123 45', email: 'jan.jr@example.nl' },
  { first: 'Aisha', last: 'Khan', email: 'aisha.khan@example.co.uk' },
];

export const SEED = generateSeed({
  customers: CUSTOMERS,
  accounts: [
    { key: 'bakery', name: 'Jansen Bakkerij', phone: '020 123 4567', website: 'https://bakkerij.example.nl' },
    { key: 'becker', name: 'Becker GmbH' },
  ],
  total: 5000,
  crowdTail: '5678',
  crowd: 1200,
});

export const startDataverse = () => FakeDataverse.start(SEED);

export async function startSalesforce(): Promise<FakeSalesforce> {
  const org = await FakeSalesforce.start(SEED);
  org.batchLimit = 500; // several batches for a phone search, as with a large org's 2,000
  return org;
}
