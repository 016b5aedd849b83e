/**
 * Plays the planned ringtone through the offscreen document, creating the
 * document when needed and again if Chrome closed it while it rang.
 */
import { browser, type Browser } from 'wxt/browser';
import { sendMessage, type SoundState } from '../../utils/messages';
import { type FromOffscreen, type Handlers, onPortMessage } from '../../utils/ports';
import type { SoundPlan } from './attention';

const OFFSCREEN_URL = 'offscreen.html';

export class Ringer {
  #plan: SoundPlan | null = null;
  #creating: Promise<void> | null = null;
  state: SoundState = { playing: false };

  constructor(private readonly onState: (state: SoundState) => void) {}

  readonly handlers: Handlers<FromOffscreen> = {
    sound: ({ state }) => {
      this.state = state;
      this.onState(state);
    },
  };

  /** The offscreen page connected: remember its reports; if it goes away while ringing, bring it back. */
  attach(port: Browser.runtime.Port): void {
    port.onMessage.addListener((message) => onPortMessage(this.handlers, message));
    port.onDisconnect.addListener(() => {
      this.state = { playing: false };
      this.onState(this.state);
      const plan = this.#plan;
      this.#plan = null;
      if (plan?.loop) void this.apply(plan);
    });
  }

  async apply(plan: SoundPlan | null): Promise<void> {
    if (sameSound(plan, this.#plan)) return;
    this.#plan = plan;
    try {
      if (!plan) {
        if (await this.#exists()) await sendMessage('stopSound', undefined);
        return;
      }
      await this.#ensure();
      await sendMessage('playSound', { sound: plan.sound, volume: plan.volume, loop: plan.loop });
    } catch (error) {
      console.warn('[deskbell] ringtone:', error);
    }
  }

  async #exists(): Promise<boolean> {
    const contexts = await browser.runtime.getContexts({ contextTypes: ['OFFSCREEN_DOCUMENT' as Browser.runtime.ContextType] });
    return contexts.length > 0;
  }

  async #ensure(): Promise<void> {
    if (await this.#exists()) return;
    this.#creating ??= browser.offscreen
      .createDocument({ url: OFFSCREEN_URL, reasons: ['AUDIO_PLAYBACK' as Browser.offscreen.Reason], justification: 'Ring for conversations waiting for the agent.' })
      .catch((error: unknown) => {
        // Another call created it first.
        if (!String(error).includes('single offscreen')) throw error;
      })
      .finally(() => (this.#creating = null));
    await this.#creating;
  }
}

function sameSound(a: SoundPlan | null, b: SoundPlan | null): boolean {
  return a === b || (!!a && !!b && a.offerId === b.offerId && a.sound === b.sound && a.volume === b.volume && a.loop === b.loop);
}
