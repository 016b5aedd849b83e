/**
 * The service worker only wires: listeners first (synchronously, so events
 * that woke the worker are not missed), then the feed and the state keeper.
 */
import { browser, type Browser } from 'wxt/browser';
import { defineBackground } from 'wxt/utils/define-background';
import { pendingOffers } from './feed-state';
import { onMessage } from '../../utils/messages';
import { OFFSCREEN_PORT, PAGE_PORT, STATE_PORT } from '../../utils/ports';
import { present } from '../../utils/presentation';
import { BUILT_IN_CRM_MATCHES } from '../../utils/crm-sites';
import { loadCatalogue, setCatalogue, t } from '../../utils/i18n';
import { loadEffectiveSettings, refreshPolicy, watchEffectiveSettings } from '../../utils/settings-store';
import { agentPresence, feedState, migrateLegacySettings, signInAskLogin, signInTokens } from '../../utils/storage-items';
import { signInProblem } from '../../utils/settings';
import { SignIn } from './sign-in';
import { CrmPages, mayRunOn } from './site-scripts';
import { planAttention } from './attention';
import { ChatMessageCommand, CreateContactCommand, NoPayload, DeliveryCommand, commandHandler, ConversationCommand, isExtensionPage, OfferCommand, PickContactCommand, RejectCommand, SearchContactsCommand } from './commands';
import { CustomerLookups } from './identify';
import { crmApi, findOrgs, orgTabs } from './crm-access';
import { CrmActions } from './crm-actions';
import { ScreenPops } from './screen-pop';
import { WriteBacks } from './write-back';
import { FeedConnection } from './feed-connection';
import type { ConnectionState } from '../../utils/connection';
import type { Settings } from '../../utils/settings';
import { SessionActions } from './session-actions';
import { SettingsApplier } from './settings-applier';
import { Notifier } from './notifier';
import { OfferActions, openSidePanel, type PanelTarget } from './offer-actions';
import { injectIntoOpenTabs } from './reinject';
import { Ringer } from './ringer';
import { StateHub, type ViewSettings } from './state-hub';
import { StateKeeper } from './state-keeper';
import { ToolbarPainter } from './toolbar';

const WAKE_ALARM = 'deskbell-wake';
const WAKE_PERIOD_MIN = 1;
const DEADLINE_ALARM = 'deskbell-deadline';
const WRITE_BACK_ALARM = 'deskbell-write-back';
const SIGN_IN_ALARM = 'deskbell-sign-in';
const SIGN_IN_NOTIFICATION = 'deskbell-sign-in';

/** Keyboard shortcuts (manifest `commands`), handled in the worker from any tab. */
export const COMMANDS = { accept: 'accept-newest', reject: 'reject-newest', panel: 'open-panel', focus: 'focus-cards' } as const;

export default defineBackground(() => {
  const hub = new StateHub(() => attend());
  const notifier = new Notifier();
  const ringer = new Ringer((sound) => feed.noteDiagnostics({ sound }));
  let settings: ViewSettings = { theme: 'system', templates: {}, sitesMissingPermission: [] };
  const keeper = new StateKeeper({
    load: () => feedState.getValue(),
    save: (state) => feedState.setValue(state),
    onView: (state) => hub.setState(state),
    onChange: (state) => {
      sessions.stateChanged(state);
      paintToolbar();
      lookups.start(state);
      screenPops.sync(state);
      writeBacks.sync(state);
      actions.autoAcceptNew();
      actions.tellTimeouts();
      attend();
    },
    onSaveError: (error, compacted) =>
      feed.noteDiagnostics({
        lastStorageError: `${new Date().toISOString()} ${compacted ? 'stored with only the latest messages of each conversation' : 'kept in memory only'}: ${String(error)}`,
      }),
    scheduleWake: (at) => {
      if (at === undefined) void browser.alarms.clear(DEADLINE_ALARM);
      else void browser.alarms.create(DEADLINE_ALARM, { when: at });
    },
  });
  // How each new offer or assignment shows is decided once, on arrival, from the templates in force then.
  const feed = new FeedConnection(
    keeper,
    (scenario, kind, now) => present(scenario, kind, settings.templates, now),
    (next) => {
      connection = next;
      hub.setConnection(next);
      paintToolbar();
    },
    () => actions.tellTimeouts(),
  );
  const actions = new OfferActions(keeper, feed);
  const sessions = new SessionActions(keeper, feed);
  feed.onCommandError((frame) => sessions.commandFailed(frame));
  const lookups = new CustomerLookups(keeper, () => ({ region: settingsApplier.current?.defaultRegion ?? 'NL', findOrgs, api: crmApi }));
  const crm = new CrmActions(keeper, crmApi, findOrgs);
  const screenPops = new ScreenPops(
    keeper,
    () => settingsApplier.current?.screenPop ?? 'none',
    async (mode, org, url) => {
      const [tabId] = mode === 'org-tab' ? await orgTabs(org) : [];
      if (tabId !== undefined) await browser.tabs.update(tabId, { url, active: true });
      else await browser.tabs.create({ url, active: true });
    },
  );
  const writeBacks = new WriteBacks(
    keeper,
    crmApi,
    () => connection?.agentName || t('sender_agent'),
    (at) => {
      if (at === undefined) void browser.alarms.clear(WRITE_BACK_ALARM);
      else void browser.alarms.create(WRITE_BACK_ALARM, { when: at });
    },
  );
  const crmPages = new CrmPages();
  const signIn = new SignIn({
    launchWebAuthFlow: (details) => browser.identity.launchWebAuthFlow(details),
    redirectUrl: () => browser.identity.getRedirectURL(),
    fetch: (input, init) => fetch(input, init),
    load: () => signInTokens.getValue(),
    save: (value) => (value ? signInTokens.setValue(value) : signInTokens.removeValue()),
    loadAskLogin: () => signInAskLogin.getValue(),
    saveAskLogin: (value) => signInAskLogin.setValue(value),
    schedule: (at) => {
      if (at === null) void browser.alarms.clear(SIGN_IN_ALARM);
      else void browser.alarms.create(SIGN_IN_ALARM, { when: Math.max(at, Date.now() + 1000) });
    },
    onChange: (view) => {
      hub.setSignIn(view);
      if (view?.status === 'signed-in') void browser.notifications.clear(SIGN_IN_NOTIFICATION);
    },
    onToken: (token) => {
      if (token) feed.renewed(token);
      // Signed out: the open connection ends; the next one waits for a sign-in.
      else if (settingsApplier.current) restartFeed(settingsApplier.current);
    },
    onLapsed: (reason) =>
      void browser.notifications.create(SIGN_IN_NOTIFICATION, {
        type: 'basic',
        iconUrl: browser.runtime.getURL('/icon/128.png'),
        title: t('sign_in_lapsed_title'),
        message: t('sign_in_lapsed_body', reason),
        requireInteraction: true,
        priority: 2,
      }),
  });
  /** Connects the feed as the settings say: with the agent token, or with the agent's sign-in. */
  const restartFeed = (s: Settings) => {
    if (!s.signInIssuer) {
      void signIn.configure(null);
      return void feed.restart(s.feedUrl, { kind: 'token', token: s.feedToken });
    }
    const problem = signInProblem(s);
    void signIn.configure(problem ? null : { issuer: s.signInIssuer, clientId: s.signInClientId, scope: s.signInScopes });
    void feed.restart(s.feedUrl, {
      kind: 'sign-in',
      token: () => signIn.token(),
      refused: (message) => void signIn.refusedByFeed(message),
      problem: problem ? t('conn_sign_in_setup') : null,
    });
  };
  const settingsApplier = new SettingsApplier({
    load: loadEffectiveSettings,
    syncSites: (sites) => crmPages.sync(sites),
    loadCatalogue,
    restartFeed,
    applied: (view) => {
      settings = view;
      // What the worker itself says (errors, notifications, the toolbar) follows the language too.
      setCatalogue(view.strings);
      hub.setSettings(view);
      feed.noteDiagnostics({ settingsAppliedAt: Date.now() });
      // Offers that arrived before the settings were loaded auto-accept now if their template says so.
      actions.autoAcceptNew();
      attend();
    },
  });
  const applySettings = () => settingsApplier.apply();

  /** The toolbar button: offers waiting, and whether the feed is reachable. */
  let connection: ConnectionState | null = null;
  const toolbar = new ToolbarPainter(browser.action, (c, problem) =>
    problem === null || !c ? t('extName') : `${t('extName')} · ${t(`connection_${c.status}`)}${problem ? `: ${problem}` : ''}`,
  );
  const paintToolbar = () => toolbar.paint(pendingOffers(keeper.state).length, connection);

  /** Brings desktop notifications and the ringtone in line with the offers waiting. */
  function attend(): void {
    const plan = planAttention(keeper.state, hub.crmTabInView(), Date.now());
    void notifier.apply(plan.notifications);
    void ringer.apply(plan.sound);
  }

  browser.runtime.onInstalled.addListener(({ reason }) => {
    if (reason === 'install' || reason === 'update') {
      void settingsReady.then(() => injectIntoOpenTabs([...BUILT_IN_CRM_MATCHES, ...(settingsApplier.current?.crmSites ?? [])]));
    }
  });

  // A CRM page has loaded: now, not before, it gets the overlay (site-scripts.ts).
  browser.tabs.onUpdated.addListener((tabId, { status }, { url }) => {
    if (status === 'complete' && url) void settingsReady.then(() => crmPages.loaded(tabId, url));
  });

  // A browser that starts again has no tokens (storage.session): the provider's session may sign the agent in without a page.
  browser.runtime.onStartup.addListener(() => void settingsReady.then(() => signIn.trySilent()));
  restrictLocalStorage();
  const settingsReady = migrateLegacySettings().then(applySettings);
  void settingsReady.then(refreshPolicy);
  const extensionOrigin = browser.runtime.getURL('/');
  const pagesOnly = { extensionOrigin };
  browser.runtime.onConnect.addListener((port: Browser.runtime.Port) => {
    if (port.name === OFFSCREEN_PORT && isExtensionPage(port.sender ?? {}, extensionOrigin)) return ringer.attach(port);
    const kind = port.name === STATE_PORT ? 'overlay' : port.name === PAGE_PORT ? 'page' : undefined;
    // Whole sessions go to the extension's own pages only, never to a content script.
    if (!kind || (kind === 'page' && !isExtensionPage(port.sender ?? {}, extensionOrigin))) return port.disconnect();
    // The first push waits for the stored state and the settings, so a woken worker never shows an empty view.
    // An overlay on a site Deskbell no longer has access to is sent away.
    const allowed = kind === 'page' || mayRunOn(port.sender?.url);
    hub.add(port, kind, Promise.all([keeper.ready, settingsReady, allowed]).then(([, , ok]) => ok));
  });

  // While the feed is connected, its heartbeat keeps the worker running. When
  // the feed is down, Chrome stops the idle worker; this alarm wakes it once a
  // minute to try again (a CRM tab's overlay wakes it sooner). It must stay
  // longer than Chrome's 30 s idle timeout, or it would keep the worker alive.
  browser.alarms.onAlarm.addListener((alarm) => {
    if (alarm.name === WRITE_BACK_ALARM) return void keeper.ready.then(() => writeBacks.sync(keeper.state));
    if (alarm.name === SIGN_IN_ALARM) return void settingsReady.then(() => signIn.renew());
    feed.nudge();
  });
  void browser.alarms.get(WAKE_ALARM).then((alarm) => {
    // Created once: created again at every start, it would never fire for a worker that restarts more often.
    if (alarm?.periodInMinutes !== WAKE_PERIOD_MIN) void browser.alarms.create(WAKE_ALARM, { periodInMinutes: WAKE_PERIOD_MIN });
  });

  // "A CRM tab is in view" needs its window to have the focus, not only the tab to be shown.
  browser.windows.onFocusChanged.addListener((windowId) => hub.setFocusedWindow(windowId));
  watchEffectiveSettings(() => void applySettings());
  agentPresence.watch((presence) => feed.setPresence(presence));
  // A revoked or newly granted host permission changes which CRM sites can run.
  browser.permissions.onAdded.addListener(() => void applySettings());
  browser.permissions.onRemoved.addListener(() => {
    void applySettings();
    void hub.dropOverlays(mayRunOn);
  });

  onMessage('acceptOffer', commandHandler(OfferCommand, ({ offerId }, sender) => {
    // Before any await: the click that sent this message still counts as a user gesture.
    openSidePanel(panelTarget(sender.tab));
    return actions.accept(offerId);
  }));

  onMessage('rejectOffer', commandHandler(RejectCommand, ({ offerId, reason }) => actions.reject(offerId, reason)));

  onMessage('openSession', commandHandler(ConversationCommand, ({ conversationId }, sender) => {
    openSidePanel(panelTarget(sender.tab));
    return actions.open(conversationId);
  }));

  onMessage('dismissNotice', commandHandler(ConversationCommand, ({ conversationId }) => actions.dismiss(conversationId)));

  /** Back to the CRM tab, where the cards are. */
  function showCrmTab(): void {
    const tab = hub.crmTab();
    if (!tab) return;
    void browser.tabs.update(tab.tabId, { active: true });
    void browser.windows.update(tab.windowId, { focused: true });
  }

  browser.notifications.onClicked.addListener((id) => {
    if (id === SIGN_IN_NOTIFICATION) {
      void browser.notifications.clear(id);
      return void signIn.signIn().catch(() => undefined);
    }
    const plan = notifier.planOf(id);
    // A toast's notification opens its session, as the toast does; an alert's goes to the alert.
    if (plan && !plan.alert) {
      openSidePanel(panelTarget(hub.crmTab()));
      void actions.open(plan.conversationId);
    } else showCrmTab();
    void browser.notifications.clear(id);
  });

  browser.notifications.onButtonClicked.addListener((id, button) => {
    const plan = notifier.planOf(id);
    if (!plan?.offerId) return;
    if (button === 0) {
      openSidePanel(panelTarget(hub.crmTab()));
      void actions.accept(plan.offerId);
    } else void rejectOrAskReason(plan.offerId);
  });

  /** Rejects from outside the card; when the template wants a reason, the card shows its reasons instead. */
  async function rejectOrAskReason(offerId: string): Promise<void> {
    const result = await actions.reject(offerId);
    if (result.ok || !result.needsReason) return;
    showCrmTab();
    hub.chooseReason(offerId);
  }

  browser.commands.onCommand.addListener((command, tab) => {
    if (command === COMMANDS.panel) return openSidePanel(panelTarget(tab));
    if (command === COMMANDS.focus) return hub.focusCards(tab?.id);
    const offerId = actions.newest();
    if (!offerId) return;
    if (command === COMMANDS.accept) {
      openSidePanel(panelTarget(tab));
      void actions.accept(offerId);
    } else if (command === COMMANDS.reject) void rejectOrAskReason(offerId);
  });

  onMessage('sendChatMessage', commandHandler(ChatMessageCommand, ({ conversationId, clientMsgId, text }) => sessions.send(conversationId, clientMsgId, text), pagesOnly));
  onMessage('retryDelivery', commandHandler(DeliveryCommand, ({ conversationId, messageId }) => sessions.retryDelivery(conversationId, messageId), pagesOnly));
  onMessage('endConversation', commandHandler(ConversationCommand, ({ conversationId }) => sessions.end(conversationId), pagesOnly));
  onMessage('closeSession', commandHandler(ConversationCommand, ({ conversationId }) => sessions.close(conversationId), pagesOnly));
  onMessage('pickContact', commandHandler(PickContactCommand, ({ conversationId, contactId }) => sessions.pickContact(conversationId, contactId), pagesOnly));
  onMessage('searchContacts', commandHandler(SearchContactsCommand, ({ conversationId, text }) => crm.search(conversationId, text), pagesOnly));
  onMessage('signIn', commandHandler(NoPayload, async () => {
    try {
      await signIn.signIn();
      return { ok: true };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }, pagesOnly));
  onMessage('signOut', commandHandler(NoPayload, async () => (await signIn.signOut(), { ok: true }), pagesOnly));
  onMessage('createContact', commandHandler(CreateContactCommand, ({ conversationId, name }) => crm.create(conversationId, name), pagesOnly));
});
/**
 * Settings (the feed token among them) live in storage.local, which content
 * scripts may read and write by default. Only the extension's own pages and
 * worker get it from here on; a browser that cannot restrict it says so.
 */
function restrictLocalStorage(): void {
  const local = browser.storage.local as unknown as { setAccessLevel?: (o: { accessLevel: string }) => Promise<void> };
  local.setAccessLevel?.({ accessLevel: 'TRUSTED_CONTEXTS' }).catch((error: unknown) => {
    console.warn('[deskbell] this browser lets content scripts read storage.local:', error);
  });
}

/** Where to open the side panel for an action in this tab. */
function panelTarget(tab: { id?: number; windowId?: number; tabId?: number } | undefined): PanelTarget {
  const tabId = tab?.tabId ?? tab?.id;
  if (tabId !== undefined) return { tabId };
  return tab?.windowId !== undefined ? { windowId: tab.windowId } : undefined;
}

