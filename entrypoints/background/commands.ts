/**
 * Validates what another part of the extension sent before the worker acts
 * on it: content scripts live in the page's process and are not trusted.
 */
import * as v from 'valibot';
import type { CommandResult } from '../../utils/messages';

const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
export const OfferCommand = v.object({ offerId: Id });
export const RejectCommand = v.object({ offerId: Id, reason: v.optional(v.pipe(v.string(), v.maxLength(200))) });

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
