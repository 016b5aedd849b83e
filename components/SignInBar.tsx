/**
 * The agent's sign-in, where the agent looks (popup, side panel): who is
 * signed in, or a Sign in button with why it is needed. Nothing when the feed
 * takes a static agent token.
 */
import { useSignal } from '@preact/signals';
import { t } from '../utils/i18n';
import type { CommandResult } from '../utils/messages';
import type { SignInView } from '../utils/oidc';

interface Props {
  signIn: SignInView | null | undefined;
  onSignIn(): Promise<CommandResult>;
  onSignOut(): Promise<CommandResult>;
}

export function SignInBar({ signIn, onSignIn, onSignOut }: Props) {
  const failed = useSignal<string | null>(null);
  if (!signIn) return null;
  const user = signIn.user?.name ?? signIn.user?.email ?? '';
  const run = async (action: () => Promise<CommandResult>) => {
    failed.value = null;
    const result = await action();
    if (!result.ok) failed.value = result.error;
  };
  const error = failed.value ?? signIn.error;
  return (
    <section class={`sign-in sign-in-${signIn.status}`} aria-label={t('sign_in_label')} data-sign-in={signIn.status}>
      {signIn.status === 'signed-in' ? (
        <p class="sign-in-who">
          <span>{t('sign_in_as', user)}</span>
          {signIn.user?.name && signIn.user.email && <span class="sign-in-email"> ({signIn.user.email})</span>}
        </p>
      ) : (
        <p class="sign-in-who">{t('sign_in_needed')}</p>
      )}
      {error && (
        <p class="sign-in-error" role="alert">
          {signIn.status === 'signed-in' ? t('sign_in_renew_failed', error) : error}
        </p>
      )}
      {signIn.status === 'signed-in' ? (
        <button type="button" class="link" onClick={() => void run(onSignOut)}>
          {t('sign_out')}
        </button>
      ) : (
        <button type="button" class="primary sign-in-button" disabled={signIn.status === 'signing-in'} onClick={() => void run(onSignIn)}>
          {signIn.status === 'signing-in' ? t('sign_in_busy') : t('sign_in')}
        </button>
      )}
    </section>
  );
}
