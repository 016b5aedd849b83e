/**
 * Validates what another part of the extension sent before the worker acts
 * on it: content scripts live in the page's process and are not trusted.
 */
import * as v from 'valibot';
import type { CommandResult } from '../../utils/messages';

export function commandHandler<S extends v.GenericSchema, R extends CommandResult>(
  schema: S,
  handle: (data: v.InferOutput<S>) => R | Promise<R>,
): (message: { data: unknown }) => Promise<R | CommandResult> {
  return async (message) => {
    const parsed = v.safeParse(schema, message.data);
    if (!parsed.success) return { ok: false, error: `Refused a malformed request: ${v.summarize(parsed.issues)}` };
    return handle(parsed.output);
  };
}
