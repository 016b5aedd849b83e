/**
 * Runtime messages between the extension's parts, as one typed map. Content
 * scripts and pages send; the worker answers. Payloads from content scripts
 * are untrusted (a compromised page renderer can forge them), so the worker
 * validates each with the schemas below before acting.
 */
import { defineExtensionMessaging } from '@webext-core/messaging';
import * as v from 'valibot';
import type { Diagnostics } from './storage-items';

export type CommandResult = { ok: true } | { ok: false; error: string };

export const OfferCommand = v.object({ offerId: v.pipe(v.string(), v.minLength(1), v.maxLength(128)) });
export const RejectCommand = v.object({
  offerId: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  reason: v.optional(v.pipe(v.string(), v.maxLength(200))),
});

export interface ProtocolMap {
  acceptOffer(data: v.InferOutput<typeof OfferCommand>): CommandResult;
  rejectOffer(data: v.InferOutput<typeof RejectCommand>): CommandResult;
  getDiagnostics(): Diagnostics;
}

export const { sendMessage, onMessage } = defineExtensionMessaging<ProtocolMap>();

/** Name of the port each overlay and page opens to receive state pushes. */
export const STATE_PORT = 'deskbell-state';
