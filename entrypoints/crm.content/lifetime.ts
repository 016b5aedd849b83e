/**
 * How long an overlay lives: until the extension is gone (reloaded, updated,
 * removed) or ended by a newer overlay in the same world.
 *
 * Not WXT's ContentScriptContext: that one ends itself on a DOM event on
 * `document`, and any page script can dispatch that event, so a hostile page
 * could remove the overlay. This lifetime listens to nothing a page can reach.
 */
import { browser } from 'wxt/browser';

export class Lifetime {
  readonly #controller = new AbortController();

  /** False once ended; checks whether the extension is still there. */
  get alive(): boolean {
    if (!this.#controller.signal.aborted && !extensionAlive()) this.end();
    return !this.#controller.signal.aborted;
  }

  end(): void {
    this.#controller.abort();
  }

  onEnd(callback: () => void): void {
    this.#controller.signal.addEventListener('abort', callback, { once: true });
  }

  /** Returns a function that cancels the timer. Leaves nothing behind once it has run or been cancelled. */
  setTimeout(handler: () => void, ms: number): () => void {
    const signal = this.#controller.signal;
    const cancel = () => {
      clearTimeout(id);
      signal.removeEventListener('abort', cancel);
    };
    const id = setTimeout(() => {
      signal.removeEventListener('abort', cancel);
      if (this.alive) handler();
    }, ms);
    signal.addEventListener('abort', cancel, { once: true });
    return cancel;
  }
}

/** An orphaned content script (its extension reloaded or removed) loses `runtime.id`. */
function extensionAlive(): boolean {
  try {
    return browser.runtime?.id != null;
  } catch {
    return false;
  }
}
