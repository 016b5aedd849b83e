/**
 * Runtime messages between the extension's parts, as one typed map. Content
 * scripts and pages send; the worker answers. Payloads from content scripts
 * are untrusted (a compromised page renderer can forge them), so the worker
 * validates each with the schemas below before acting.
 */
import { defineExtensionMessaging } from '@webext-core/messaging';
import type { Diagnostics } from './storage-items';

export type CommandResult = { ok: true } | { ok: false; error: string };

/**
 * Payload schemas live with the worker (entrypoints/background/commands.ts),
 * which checks every request; this module stays light for content scripts.
 */
export interface ProtocolMap {
  acceptOffer(data: { offerId: string }): CommandResult;
  rejectOffer(data: { offerId: string; reason?: string }): CommandResult;
  getDiagnostics(): Diagnostics;
}

export const { sendMessage, onMessage } = defineExtensionMessaging<ProtocolMap>();

/** Name of the port each overlay and page opens to receive state pushes. */
export const STATE_PORT = 'deskbell-state';
