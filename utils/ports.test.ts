/**
 * Meta-test of the conventions in utils/ports.ts and utils/messages.ts:
 * every port message type and every runtime command has exactly one handler
 * in the extension's source.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { onPortMessage, PORT_MESSAGE_TYPES, readOverlayMessage, type ToOverlay } from './ports';

const sources = ['components', 'entrypoints', 'utils'].flatMap((dir) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f))
    .map((f) => ({ file: `${dir}/${f}`, text: readFileSync(`${dir}/${f}`, 'utf8') })),
);
const count = (pattern: RegExp) => sources.flatMap((s) => [...s.text.matchAll(pattern)].map(() => s.file));

describe('port messages', () => {
  it('each direction of each port has exactly one handler map, and it names every type', () => {
    for (const union of ['ToOverlay', 'ToPage', 'FromOffscreen']) {
      const sites = count(new RegExp(`(Handlers|onPortMessage)<${union}>`, 'g'));
      expect(sites, union).toHaveLength(1);
    }
    // From the page's renderer: read field by field, in one place.
    expect(count(/readOverlayMessage\(/g).filter((f) => f !== 'utils/ports.ts')).toHaveLength(1);
    expect(PORT_MESSAGE_TYPES.toOverlay).toEqual(['view', 'leave', 'chooseReason', 'focusCards']);
  });

  it('drops a message of no known type, or not an object, without throwing', () => {
    const seen: string[] = [];
    const handlers = { view: () => seen.push('view'), leave: () => seen.push('leave'), chooseReason: () => seen.push('reason'), focusCards: () => seen.push('focus') };
    for (const bad of [null, 'leave', 42, {}, { type: 'toString' }, { type: '__proto__' }, { leave: true }]) onPortMessage<ToOverlay>(handlers, bad);
    onPortMessage<ToOverlay>(handlers, { type: 'leave' });
    expect(seen).toEqual(['leave']);
  });

  it('takes from an overlay only a well-formed visibility message', () => {
    expect(readOverlayMessage({ type: 'visibility', visible: true })).toEqual({ type: 'visibility', visible: true });
    for (const bad of [{ visible: true }, { type: 'visibility', visible: 'yes' }, { type: 'visibility', visible: true, extra: 1 }, null, 'x']) {
      expect(readOverlayMessage(bad)).toBeUndefined();
    }
  });
});

describe('runtime commands', () => {
  it('every command of the protocol map has exactly one handler', () => {
    const map = readFileSync('utils/messages.ts', 'utf8');
    const body = map.slice(map.indexOf('export interface ProtocolMap'), map.indexOf('\n}', map.indexOf('export interface ProtocolMap')));
    const commands = [...body.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]!);
    expect(commands.length).toBeGreaterThan(8);
    for (const command of commands) expect(count(new RegExp(`onMessage\\('${command}'`, 'g')), command).toHaveLength(1);
  });
});
