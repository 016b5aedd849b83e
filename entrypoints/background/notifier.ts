/**
 * Desktop notifications for offers, kept equal to the plan: created when an
 * offer should notify, cleared as soon as it no longer should (answered,
 * expired, withdrawn, or a CRM tab came into view).
 */
import { browser } from 'wxt/browser';
import { t } from '../../utils/i18n';
import type { NotificationPlan } from './attention';
import { scenarioTitle } from '../../components/scenario-title';

export class Notifier {
  readonly #shown = new Map<string, NotificationPlan>();

  /** What a notification is about, for its click and button handlers. */
  planOf(notificationId: string): NotificationPlan | undefined {
    return this.#shown.get(notificationId);
  }

  async apply(plans: readonly NotificationPlan[]): Promise<void> {
    const wanted = new Map(plans.map((p) => [p.id, p]));
    for (const id of this.#shown.keys()) {
      if (wanted.has(id)) continue;
      this.#shown.delete(id);
      await browser.notifications.clear(id).catch(() => false);
    }
    for (const plan of wanted.values()) {
      if (this.#shown.has(plan.id)) continue;
      this.#shown.set(plan.id, plan);
      await browser.notifications
        .create(plan.id, {
          type: 'basic',
          iconUrl: browser.runtime.getURL('/icon/128.png'),
          title: `${scenarioTitle(plan.scenario)}: ${plan.customerName}`,
          message: plan.comment,
          contextMessage: t('extName'),
          requireInteraction: plan.alert,
          priority: plan.alert ? 2 : 0,
          ...(plan.alert ? { buttons: [{ title: t('accept') }, ...(plan.rejectAllowed ? [{ title: t('reject') }] : [])] } : {}),
        })
        .catch((error: unknown) => console.warn('[deskbell] could not show a desktop notification:', error));
    }
  }
}
