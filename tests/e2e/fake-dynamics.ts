/** The e2e org: contacts whose mobile phones are typed in many formats, a few sharing digits or numbers. */
import { type DynamicsOrg, orgContact, startDynamicsOrg } from '../../demo/dynamics-org';

export type FakeDynamics = DynamicsOrg;

export const CONTACTS = [
  orgContact('Maria Jansen', '06-1234 5678', 'maria.jansen@example.nl'),
  orgContact('Piet Smit', '06 8765 5678'),
  orgContact('Tom Becker', '0049 151 23456789', 'tom.becker@example.de'),
  orgContact('Aisha Khan', '+44 7700 900 123'),
  orgContact('Jan de Boer', '+31 6 55512345', 'jan@example.nl'),
  orgContact('Jan de Boer jr.', '06-555 123 45', 'jan.jr@example.nl'),
  orgContact('No Phone', null),
];

export const startFakeDynamics = () => startDynamicsOrg(CONTACTS);
