/**
 * People for the fake CRM orgs: a few named customers, and thousands of
 * others with numbers written by hand in many national and international
 * formats, hundreds of them sharing the last four digits of a customer's
 * number. Deterministic (seeded), so a failing test can be read again.
 */

export interface SeedAccount {
  key: string;
  name: string;
  phone?: string;
  website?: string;
}

export interface SeedCase {
  number: string;
  title: string;
  /** Open, resolved or cancelled. */
  state: 'active' | 'resolved' | 'cancelled';
  createdOn: string;
}

export interface SeedContact {
  first: string;
  last: string;
  email?: string;
  mobile?: string;
  business?: string;
  home?: string;
  title?: string;
  account?: string;
  cases?: SeedCase[];
  /** Open activities: subjects. */
  tasks?: string[];
}

export interface Seed {
  accounts: SeedAccount[];
  contacts: SeedContact[];
}

/** mulberry32: small, seeded, good enough to spread test data. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Anna', 'Bram', 'Chloé', 'Daan', 'Emma', 'Finn', 'Greta', 'Hugo', 'Iris', 'Jonas', 'Kai', 'Lena', 'Milan', 'Noor', 'Olaf', 'Pia', 'Quinn', 'Ruben', 'Sara', 'Tess', 'Umar', 'Vera', 'Wout', 'Xena', 'Yara', 'Zoë'];
const LAST = ['de Vries', 'Bakker', 'Visser', 'Smit', 'Meyer', 'Schulz', 'Brown', 'Wilson', 'Dubois', 'Moreau', 'García', 'Rossi', 'Novak', 'Nowak', 'Horvat', 'Jensen', 'Peeters', 'Janssens', "O'Neill", 'Müller'];

/** The same number as people in a Dutch org type it: national for Dutch numbers, international for others, grouped and punctuated. */
export function handTyped(e164: string, style: number): string {
  const d = e164.slice(1);
  if (d.startsWith('316')) {
    const n = d.slice(3); // 8 digits after the 6
    const styles = [
      `06-${n.slice(0, 4)} ${n.slice(4)}`,
      `06 ${n}`,
      `06${n}`,
      `+31 6 ${n}`,
      `+31 (0)6 ${n.slice(0, 4)} ${n.slice(4)}`,
      `0031 6 ${n.slice(0, 2)} ${n.slice(2, 4)} ${n.slice(4, 6)} ${n.slice(6)}`,
      `(06) ${n.slice(0, 4)}-${n.slice(4)}`,
      `+31-6-${n.slice(0, 4)}-${n.slice(4)}`,
      `06.${n.slice(0, 2)}.${n.slice(2, 4)}.${n.slice(4, 6)}.${n.slice(6)}`,
      `+316${n}`,
    ];
    return styles[style % styles.length]!;
  }
  if (d.startsWith('4915')) {
    const n = d.slice(2);
    return [`+49 (0)${n.slice(0, 3)} ${n.slice(3)}`, `+49 ${n.slice(0, 3)} ${n.slice(3)}`, `0049 ${n}`, `+49-${n.slice(0, 3)}-${n.slice(3)}`][style % 4]!;
  }
  if (d.startsWith('447')) {
    const n = d.slice(2);
    return [`0044 ${n.slice(0, 4)} ${n.slice(4)}`, `+44 ${n.slice(0, 4)} ${n.slice(4, 7)} ${n.slice(7)}`, `+44 (0)${n}`][style % 3]!;
  }
  if (d.startsWith('1')) {
    const n = d.slice(1);
    return [`+1 (${n.slice(0, 3)}) ${n.slice(3, 6)}-${n.slice(6)}`, `+1 ${n.slice(0, 3)}-${n.slice(3, 6)}-${n.slice(6)}`, `001 ${n.slice(0, 3)}.${n.slice(3, 6)}.${n.slice(6)}`][style % 3]!;
  }
  return e164;
}

const digits = (next: () => number, count: number) => Array.from({ length: count }, () => Math.floor(next() * 10)).join('');

/**
 * `customers` are placed among `total` generated contacts; `crowdTail`
 * (four digits) is shared by `crowd` of the generated NL mobile numbers.
 */
export function generateSeed(options: { customers: SeedContact[]; accounts?: SeedAccount[]; total: number; crowdTail: string; crowd: number; seed?: number }): Seed {
  const next = random(options.seed ?? 42);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const taken = new Set(options.customers.flatMap((c) => [c.mobile, c.business, c.home]).filter(Boolean));
  const contacts: SeedContact[] = [];
  for (let i = 0; contacts.length < options.total - options.customers.length; i++) {
    const inCrowd = i < options.crowd;
    // The crowd is Dutch and German mobiles ending in the tail; the rest from four countries.
    const kind = inCrowd ? i % 2 : Math.floor(next() * 4);
    const tail = () => (inCrowd ? options.crowdTail : digits(next, 4));
    const e164 = kind === 0 ? `+316${digits(next, 4)}${tail()}` : kind === 1 ? `+4915${digits(next, 5)}${tail()}` : kind === 2 ? `+447${digits(next, 9)}` : `+1415${digits(next, 7)}`;
    if (taken.has(e164)) continue;
    taken.add(e164);
    const typed = handTyped(e164, Math.floor(next() * 10));
    const first = pick(FIRST);
    const last = pick(LAST);
    const field = Math.floor(next() * 3);
    contacts.push({
      first,
      last,
      ...(next() < 0.7 ? { email: `${first}.${last}.${i}@example.org`.toLowerCase().replace(/[^a-z0-9.@]/g, '') } : {}),
      ...(field === 0 ? { mobile: typed } : field === 1 ? { business: typed } : { home: typed }),
    });
  }
  // The customers somewhere in the middle, not first or last.
  const all = [...contacts];
  options.customers.forEach((c, i) => all.splice(Math.floor(((i + 1) * all.length) / (options.customers.length + 1)), 0, c));
  return { accounts: options.accounts ?? [], contacts: all };
}
