/**
 * Page object for the overlay in a CRM tab. The overlay sits in a *closed*
 * shadow root, which page scripts and Playwright selectors cannot enter; the
 * test reaches it the way DevTools does, through CDP, and clicks with real
 * (trusted) mouse input at the element's position.
 */
import type { CDPSession, Page } from '@playwright/test';

export interface CardInfo {
  /** The offer's id for an alert, the conversation's for a toast. */
  id: string;
  scenario: string;
  kind: 'alert' | 'toast';
  role: string | null;
  title: string;
  customer: string;
  comment: string;
  context: string;
  meta: string;
  countdown: string;
  error: string;
  buttons: string[];
}

type Node = { nodeId: number; backendNodeId: number; nodeName: string; attributes?: string[]; children?: Node[]; shadowRoots?: (Node & { shadowRootType?: string })[] };

export class OverlayPage {
  #cdp: Promise<CDPSession>;

  constructor(readonly page: Page) {
    this.#cdp = page.context().newCDPSession(page);
  }

  /** The overlay's shadow root, found through CDP wherever the host is (under <html>, in a modal dialog, in a fullscreen element); null when there is none. */
  async #root(): Promise<{ objectId: string; mode: string } | null> {
    const cdp = await this.#cdp;
    const { root } = (await cdp.send('DOM.getDocument', { depth: -1, pierce: true })) as { root: Node };
    const hosts: Node[] = [];
    const walk = (node: Node, inFrame: boolean) => {
      // Only this document's own tree: a host inside an iframe's document is another overlay.
      if (!inFrame && (node.attributes ?? []).includes('data-deskbell-overlay')) hosts.push(node);
      for (const child of node.children ?? []) walk(child, inFrame);
      const frameDoc = (node as Node & { contentDocument?: Node }).contentDocument;
      if (frameDoc) walk(frameDoc, true);
    };
    walk(root, false);
    const shadow = hosts.at(-1)?.shadowRoots?.[0];
    if (!shadow) return null;
    const { object } = (await cdp.send('DOM.resolveNode', { backendNodeId: shadow.backendNodeId })) as { object: { objectId: string } };
    return { objectId: object.objectId, mode: shadow.shadowRootType ?? 'unknown' };
  }

  /** Every overlay host in the page and its frames, by the frame's URL path: one overlay per tab, in the top frame. */
  async hostsByFrame(): Promise<string[]> {
    const cdp = await this.#cdp;
    const { root } = (await cdp.send('DOM.getDocument', { depth: -1, pierce: true })) as { root: Node & { documentURL?: string } };
    const found: string[] = [];
    const walk = (node: Node, doc: string) => {
      if ((node.attributes ?? []).includes('data-deskbell-overlay')) found.push(doc);
      for (const child of node.children ?? []) walk(child, doc);
      const frameDoc = (node as Node & { contentDocument?: Node & { documentURL?: string } }).contentDocument;
      if (frameDoc) walk(frameDoc, new URL(frameDoc.documentURL ?? 'about:blank').pathname);
    };
    walk(root, new URL(root.documentURL ?? 'about:blank').pathname);
    return found;
  }

  /** What is on top at the centre of an element of the overlay, as the page's hit test sees it: the overlay's host, or the page's element. */
  async onTopAt(selector: string): Promise<string> {
    const box = await this.evaluate<{ x: number; y: number } | null>(`function (selector) {
      const r = this.querySelector(selector)?.getBoundingClientRect();
      return r && r.width ? { x: r.x + r.width / 2, y: r.y + r.height / 2 } : null;
    }`, selector);
    if (!box) return 'no such element';
    return this.page.evaluate(({ x, y }) => {
      const hit = document.elementFromPoint(x, y);
      return hit?.hasAttribute('data-deskbell-overlay') ? 'overlay' : `${hit?.tagName.toLowerCase()}#${hit?.id}`;
    }, box);
  }

  /** Where the host is: the tag of its parent element. */
  async hostParent(): Promise<string | undefined> {
    return this.page.evaluate(() => document.querySelector('[data-deskbell-overlay]')?.parentElement?.localName);
  }

  /** Runs `fn` with `this` bound to the overlay's shadow root; returns its JSON result. */
  async evaluate<T>(fn: string, ...args: unknown[]): Promise<T | null> {
    const root = await this.#root();
    if (!root) return null;
    const cdp = await this.#cdp;
    const result = (await cdp.send('Runtime.callFunctionOn', {
      objectId: root.objectId,
      functionDeclaration: fn,
      arguments: args.map((value) => ({ value })),
      returnByValue: true,
      awaitPromise: true,
    })) as { result: { value: T }; exceptionDetails?: { text: string } };
    if (result.exceptionDetails) throw new Error(`overlay evaluate failed: ${result.exceptionDetails.text}`);
    return result.result.value;
  }

  /** Stops DevTools from following the page's DOM (finding the overlay turned it on): a bench that watches from inside the page should not pay for it. */
  async stopFollowingDom(): Promise<void> {
    await (await this.#cdp).send('DOM.disable').catch((error: unknown) => {
      // Not following since the last call: nothing to stop.
      if (!String(error).includes("hasn't been enabled")) throw error;
    });
  }

  async hostCount(): Promise<number> {
    return this.page.evaluate(() => document.querySelectorAll('[data-deskbell-overlay]').length);
  }

  async shadowMode(): Promise<string | null> {
    return (await this.#root())?.mode ?? null;
  }

  async cards(): Promise<CardInfo[]> {
    return (
      (await this.evaluate<CardInfo[]>(`function () {
        const text = (el, sel) => el.querySelector(sel)?.textContent ?? '';
        return [...this.querySelectorAll('.card')].map((c) => ({
          id: c.dataset.cardId,
          scenario: c.dataset.scenario,
          kind: c.classList.contains('alert') ? 'alert' : 'toast',
          role: c.getAttribute('role'),
          title: text(c, '.title'),
          customer: text(c, '.customer'),
          comment: text(c, '.comment'),
          context: text(c, '.context'),
          meta: text(c, '.meta'),
          countdown: text(c, '.countdown'),
          error: text(c, '.error'),
          buttons: [...c.querySelectorAll('.actions button')].map((b) => b.textContent),
        }));
      }`)) ?? []
    );
  }

  async theme(): Promise<string | null> {
    return this.evaluate<string>(`function () { return this.querySelector('.root')?.className ?? null; }`);
  }

  async liveRegion(): Promise<string> {
    return (await this.evaluate<string>(`function () { return this.querySelector('[role=status][aria-live]')?.textContent ?? ''; }`)) ?? '';
  }

  /**
   * A trusted click: real mouse input at the centre of the element, waiting for it as Playwright's
   * click does: enabled, and stable (the same box twice, a frame apart: a card still sliding in, or
   * moving up as the one above it goes, would take the click somewhere else).
   */
  async click(selector: string, cardId?: string, timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: { x: number; y: number } | null = null;
    for (;;) {
      const box = await this.evaluate<{ x: number; y: number } | null>(
        `function (selector, cardId) {
          const scope = cardId ? this.querySelector('[data-card-id="' + cardId + '"]') : this;
          const el = scope?.querySelector(selector);
          if (!el || el.disabled) return null;
          const r = el.getBoundingClientRect();
          return r.width && r.height ? { x: r.x + r.width / 2, y: r.y + r.height / 2 } : null;
        }`,
        selector,
        cardId ?? null,
      );
      if (box && last && box.x === last.x && box.y === last.y) return this.page.mouse.click(box.x, box.y);
      last = box;
      if (Date.now() > until) throw new Error(`no ${selector} in the overlay${cardId ? ` for card ${cardId}` : ''}, or it never stood still`);
      await this.page.waitForTimeout(box ? 20 : 50);
    }
  }

  /** An untrusted click, as a script on the page would make one (if it could reach the button). */
  async syntheticClick(selector: string): Promise<boolean> {
    return (await this.evaluate<boolean>(`function (selector) {
      const el = this.querySelector(selector);
      if (!el) return false;
      el.click();
      el.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      return true;
    }`, selector)) ?? false;
  }

  async screenshot(path: string): Promise<void> {
    await this.page.screenshot({ path, clip: { x: 1280 - 400, y: 0, width: 400, height: 520 } });
  }
}
