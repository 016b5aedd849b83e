/**
 * How each scenario looks and sounds. Whether it is an alert (offered: Accept
 * / Reject and a countdown) or a toast (assigned: already the agent's) is the
 * feed's routing decision, not the template's (utils/presentation.ts). The
 * defaults suit the default routing: offered scenarios ring and stay up to
 * 30 s; assigned ones show for 12 s. Admins override any field per scenario;
 * this module merges and checks those overrides.
 */
import * as v from 'valibot';
import type { Scenario } from '../protocol/feed';

export const FIELDS = ['customer', 'comment', 'waitTime', 'channel', 'queue', 'phone', 'email', 'context'] as const;
export type Field = (typeof FIELDS)[number];

export const DESKTOP_POLICIES = ['never', 'when-hidden', 'always'] as const;
/** Bundled ringtones (public/sounds/<name>.wav). */
export const SOUNDS = ['chime', 'ring', 'soft'] as const;

export const TemplateSchema = v.object({
  /** Alert: the longest it stays up (the feed's deadline may end it sooner, and is told when this ends it first). Toast: how long it shows. */
  timeoutSec: v.pipe(v.number(), v.integer(), v.minValue(3), v.maxValue(600)),
  showCountdown: v.boolean(),
  /** Empty: the translated default. */
  acceptLabel: v.pipe(v.string(), v.maxLength(30)),
  rejectLabel: v.pipe(v.string(), v.maxLength(30)),
  rejectAllowed: v.boolean(),
  /** Reasons the agent picks from when rejecting; empty: reject at once without a reason. */
  rejectReasons: v.pipe(v.array(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(60))), v.maxLength(10)),
  autoAccept: v.boolean(),
  sound: v.boolean(),
  /** Which bundled ringtone; alerts ring until answered, toasts once. */
  soundName: v.picklist(SOUNDS),
  /** 0–100. */
  volume: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100)),
  desktop: v.picklist(DESKTOP_POLICIES),
  fields: v.array(v.picklist(FIELDS)),
});
export type Template = v.InferOutput<typeof TemplateSchema>;
export type TemplateOverrides = Partial<Record<Scenario, Partial<Template>>>;

const alert = (over: Partial<Template> = {}): Template => ({
  timeoutSec: 30,
  showCountdown: true,
  acceptLabel: '',
  rejectLabel: '',
  rejectAllowed: true,
  rejectReasons: [],
  autoAccept: false,
  sound: true,
  soundName: 'ring',
  volume: 80,
  desktop: 'when-hidden',
  fields: ['customer', 'comment', 'waitTime', 'queue'],
  ...over,
});

const toast = (over: Partial<Template> = {}): Template => ({
  ...alert(),
  timeoutSec: 12,
  showCountdown: false,
  rejectAllowed: false,
  sound: false,
  soundName: 'chime',
  desktop: 'never',
  ...over,
});

export const DEFAULT_TEMPLATES: Record<Scenario, Template> = {
  chat: alert(),
  sms: alert({ fields: ['customer', 'comment', 'waitTime', 'phone'] }),
  facebook: alert(),
  'work-item': toast({ fields: ['customer', 'comment', 'queue'] }),
  transfer: toast({ fields: ['customer', 'comment', 'waitTime', 'context'] }),
  escalation: toast({ fields: ['customer', 'comment', 'context'] }),
  'bot-escalation': toast({ fields: ['customer', 'comment', 'waitTime', 'context'] }),
};

/** The template in force for a scenario: defaults, then the admin's valid overrides. */
export function templateFor(scenario: Scenario, overrides: TemplateOverrides = {}): Template {
  const merged = { ...DEFAULT_TEMPLATES[scenario], ...overrides[scenario] };
  const checked = v.safeParse(TemplateSchema, merged);
  return checked.success ? checked.output : DEFAULT_TEMPLATES[scenario];
}
