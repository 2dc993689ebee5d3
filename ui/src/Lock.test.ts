// The Lock: the app hides the account behind the Locked screen until the PIN or the password
// is typed again. The backend is mocked; what is checked is what the user sees and what reaches it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type { LockStatus, SessionState } from './lib/bindings';
import { active, status, twoDevices, unlocked } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** A backend that checks like the engine: the password online (refused when `offline`), the
 * PIN here with three free tries, then a wait, and the fifth wrong one in a row erases it. */
function backend(initial: Partial<LockStatus> = {}, offline = false) {
  const calls: { cmd: string; args: unknown }[] = [];
  let lock: LockStatus = { ...unlocked, ...initial };
  let session: SessionState = active;
  let failures = 0;
  let erased = false;
  let eraseRefusal: { code: string; message: string } | null = null;
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case 'app_status':
          return erased ? status(false, { state: 'signed_out' }) : status(true, session, lock);
        case 'erase_to_restore':
          if (!lock.locked) throw { code: 'not_allowed', message: 'This computer is not locked.' };
          if (eraseRefusal) throw eraseRefusal;
          erased = true;
          return undefined;
        case 'recovery_words':
          return { count: 24, words: ['abandon', 'ability'] };
        case 'check_recovery_phrase':
          return { words: [], status: 'incomplete' };
        case 'list_devices':
          if (lock.locked) throw { code: 'locked', message: 'Enigm is locked.' };
          return twoDevices;
        case 'lock_app':
          lock = { ...lock, locked: true };
          return lock;
        case 'set_auto_lock':
          lock = { ...lock, auto_lock_minutes: (args as { minutes: number }).minutes };
          return lock;
        case 'set_pin': {
          if (lock.locked) throw { code: 'locked', message: 'Enigm is locked.' };
          if (!/^[0-9]{6,12}$/.test((args as { pin: string }).pin)) {
            throw { code: 'invalid_pin', message: 'A PIN is 6 to 12 digits (0-9), nothing else.' };
          }
          lock = { ...lock, pin_set: true };
          return lock;
        }
        case 'remove_pin':
          lock = { ...lock, pin_set: false };
          return lock;
        case 'unlock_app': {
          const { username, password } = args as { username: string | null; password: string };
          if (lock.needs_username && username === null) {
            throw { code: 'unlock_needs_username', message: 'Enter your username too.' };
          }
          if (offline) {
            throw {
              code: 'unlock_needs_service',
              message: 'The Enigm service cannot be reached, and your account password cannot be checked offline.',
            };
          }
          if (password !== 'right') {
            throw { code: 'unlock_wrong_password', message: 'That is not your account password.' };
          }
          lock = { ...lock, locked: false, retry_in: 0, needs_username: false };
          return lock;
        }
        case 'unlock_with_pin': {
          const { pin } = args as { pin: string };
          if (!lock.pin_set) throw { code: 'no_pin', message: 'No PIN is set on this computer.' };
          if (pin !== '424242') {
            failures++;
            if (failures >= 5) {
              lock = { ...lock, pin_set: false, retry_in: 0 };
              throw {
                code: 'pin_erased',
                message: 'That was the 5th wrong PIN in a row, so the PIN was turned off on this computer.',
              };
            }
            lock = { ...lock, retry_in: failures >= 3 ? 5 : 0 };
            throw {
              code: 'unlock_wrong_pin',
              message: `That is not this computer's PIN${failures >= 3 ? '; try again in 5 seconds' : ''}.`,
            };
          }
          failures = 0;
          lock = { ...lock, locked: false, retry_in: 0 };
          return lock;
        }
        default:
          return undefined;
      }
    },
    { shouldMockEvents: true },
  );
  return {
    sent: (cmd: string) => calls.filter((call) => call.cmd === cmd).map((call) => call.args),
    refuseErase: (refusal: { code: string; message: string }) => {
      eraseRefusal = refusal;
    },
    revoke: () => {
      session = { state: 'revoked', at: 1_800_000_000, signed_at: null, by: null, reason: 'revoked', replaced_by: null };
    },
  };
}

async function typePassword(value: string) {
  await fireEvent.input(screen.getByLabelText('Password'), { target: { value } });
  await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
}

async function typePin(value: string) {
  await fireEvent.input(screen.getByLabelText('PIN'), { target: { value } });
  await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
}

describe('lock', () => {
  it('locks from Settings and with Ctrl+L, and without a PIN asks for the password, checked online', async () => {
    const ipc = backend();
    render(App);
    await screen.findAllByTestId('device');
    await fireEvent.click(screen.getByRole('button', { name: /Settings/ }));
    await fireEvent.click(screen.getByRole('button', { name: /Lock now/ }));
    expect(await screen.findByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    expect(screen.queryByRole('navigation', { name: 'Main' })).toBeNull();
    expect(screen.queryByText('Work laptop')).toBeNull();
    expect(ipc.sent('lock_app')).toHaveLength(1);
    expect(screen.queryByLabelText('PIN')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Use your PIN instead' })).toBeNull();
    expect(screen.getByTestId('unlock-online').textContent).toContain('Your Enigm service checks your password');

    await typePassword('wrong');
    const error = await screen.findByTestId('unlock-error');
    expect(error.textContent).toContain('That is not your account password.');
    expect(error.dataset.code).toBe('unlock_wrong_password');
    expect(screen.queryByTestId('unlock-wait')).toBeNull();
    await typePassword('right');
    expect(ipc.sent('unlock_app')).toEqual([
      { username: null, password: 'wrong' },
      { username: null, password: 'right' },
    ]);
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();

    await fireEvent.keyDown(window, { key: 'l', ctrlKey: true });
    expect(await screen.findByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    expect(ipc.sent('lock_app')).toHaveLength(2);
    // Ctrl+L on the Locked screen does not lock again.
    await fireEvent.keyDown(window, { key: 'l', ctrlKey: true });
    expect(ipc.sent('lock_app')).toHaveLength(2);
  });

  it('says the password cannot be checked offline and, with a PIN, goes back to the PIN', async () => {
    const ipc = backend({ locked: true, pin_set: true }, true);
    render(App);
    expect(await screen.findByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Use your password instead' }));
    expect(screen.queryByLabelText('PIN')).toBeNull();
    expect(screen.getByTestId('unlock-online').textContent).toContain('Offline, use your PIN.');
    await typePassword('right');
    const error = await screen.findByTestId('unlock-error');
    expect(error.dataset.code).toBe('unlock_needs_service');
    expect(error.textContent).toContain('cannot be checked offline');
    expect(screen.queryByRole('navigation', { name: 'Main' })).toBeNull();

    await fireEvent.click(screen.getByRole('button', { name: 'Use your PIN instead' }));
    expect(screen.queryByTestId('unlock-error')).toBeNull();
    await typePin('424242');
    expect(ipc.sent('unlock_with_pin')).toEqual([{ pin: '424242' }]);
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();
  });

  it('with a PIN asks for it after a restart, says a PIN is wrong and counts the wait down', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const ipc = backend({ locked: true, pin_set: true });
    render(App);
    expect(await screen.findByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    expect(ipc.sent('list_devices')).toHaveLength(0);
    expect(screen.queryByLabelText('Password')).toBeNull();
    expect(screen.queryByTestId('unlock-online')).toBeNull();
    expect(screen.getByRole('button', { name: 'Use your password instead' })).toBeTruthy();

    await typePin('000000');
    const error = await screen.findByTestId('unlock-error');
    expect(error.textContent).toContain("That is not this computer's PIN.");
    expect((screen.getByLabelText('PIN') as HTMLInputElement).value).toBe('');
    await typePin('000001');
    await vi.waitFor(() => expect(ipc.sent('unlock_with_pin')).toHaveLength(2));
    await typePin('000002');
    await vi.waitFor(() =>
      expect(screen.getByTestId('unlock-error').textContent).toContain('try again in 5 seconds'),
    );
    expect((await screen.findByTestId('unlock-wait')).textContent).toContain('try again in 5 seconds');
    await fireEvent.input(screen.getByLabelText('PIN'), { target: { value: '424242' } });
    const button = screen.getByRole('button', { name: /Wait 5 seconds/ }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);

    await vi.advanceTimersByTimeAsync(2000);
    expect(screen.getByTestId('unlock-wait').textContent).toContain('3 seconds');
    await vi.advanceTimersByTimeAsync(3000);
    expect(screen.queryByTestId('unlock-wait')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();
    expect(ipc.sent('unlock_with_pin')).toHaveLength(4);
    expect(ipc.sent('unlock_app')).toHaveLength(0);
  });

  it('after the fifth wrong PIN says the PIN was turned off and asks for the password', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const ipc = backend({ locked: true, pin_set: true });
    render(App);
    await screen.findByRole('heading', { name: 'Enigm is locked' });
    for (const [index, pin] of ['000000', '000001', '000002', '000003', '000004'].entries()) {
      await typePin(pin);
      await vi.waitFor(() => expect(ipc.sent('unlock_with_pin')).toHaveLength(index + 1));
      await vi.advanceTimersByTimeAsync(5000);
    }
    const error = await screen.findByTestId('unlock-error');
    await vi.waitFor(() => expect(error.dataset.code).toBe('pin_erased'));
    expect(error.textContent).toContain('the PIN was turned off');
    await vi.waitFor(() => expect(screen.queryByLabelText('PIN')).toBeNull());
    expect(screen.getByLabelText('Password')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Use your PIN instead' })).toBeNull();
    await typePassword('right');
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();
  });

  it('asks a profile that does not know its username for it too', async () => {
    const ipc = backend({ locked: true, needs_username: true });
    render(App);
    await screen.findByTestId('unlock-online');
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'right' } });
    const unlock = screen.getByRole('button', { name: 'Unlock' }) as HTMLButtonElement;
    expect(unlock.disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText('Username'), { target: { value: 'alice' } });
    await fireEvent.click(unlock);
    expect(ipc.sent('unlock_app')).toEqual([{ username: 'alice', password: 'right' }]);
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();
  });

  it('lets Settings set, change and remove the PIN, and shows why a PIN is refused', async () => {
    const ipc = backend();
    render(App);
    await screen.findAllByTestId('device');
    await fireEvent.click(screen.getByRole('button', { name: /Settings/ }));
    expect(screen.getByTestId('pin-state').textContent).toContain('No PIN is set');
    expect(screen.queryByRole('button', { name: 'Remove PIN' })).toBeNull();
    const setButton = screen.getByRole('button', { name: 'Set PIN' }) as HTMLButtonElement;
    expect(setButton.disabled).toBe(true);

    await fireEvent.input(screen.getByLabelText('Choose a PIN'), { target: { value: '1234' } });
    await fireEvent.click(setButton);
    expect((await screen.findByRole('alert')).textContent).toContain('A PIN is 6 to 12 digits');
    expect(screen.getByTestId('pin-state').textContent).toContain('No PIN is set');

    await fireEvent.input(screen.getByLabelText('Choose a PIN'), { target: { value: '424242' } });
    await fireEvent.click(setButton);
    expect((await screen.findByTestId('pin-saved')).textContent).toContain('PIN set.');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByTestId('pin-state').textContent).toContain('A PIN is set');
    expect((screen.getByLabelText('New PIN') as HTMLInputElement).value).toBe('');

    await fireEvent.input(screen.getByLabelText('New PIN'), { target: { value: '13572468' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Change PIN' }));
    await vi.waitFor(() => expect(screen.getByTestId('pin-saved').textContent).toBe('PIN changed.'));

    await fireEvent.click(screen.getByRole('button', { name: 'Remove PIN' }));
    await vi.waitFor(() => expect(screen.getByTestId('pin-saved').textContent).toContain('PIN removed.'));
    expect(screen.getByTestId('pin-state').textContent).toContain('No PIN is set');
    expect(ipc.sent('set_pin')).toEqual([{ pin: '1234' }, { pin: '424242' }, { pin: '13572468' }]);
    expect(ipc.sent('remove_pin')).toHaveLength(1);

    // The Locked screen now offers the PIN only when one is set.
    await fireEvent.input(screen.getByLabelText('Choose a PIN'), { target: { value: '424242' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Set PIN' }));
    await screen.findByRole('button', { name: 'Remove PIN' });
    await fireEvent.click(screen.getByRole('button', { name: /Lock now/ }));
    expect(await screen.findByLabelText('PIN')).toBeTruthy();
  });

  it('locks by itself after the chosen minutes without use, and not while the window is used', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const ipc = backend({ auto_lock_minutes: 5 });
    render(App);
    await screen.findAllByTestId('device');
    // Used every four minutes for twelve minutes: never five minutes idle.
    for (let i = 0; i < 3; i++) {
      await vi.advanceTimersByTimeAsync(4 * 60_000);
      await fireEvent.pointerMove(window);
    }
    expect(ipc.sent('lock_app')).toHaveLength(0);
    expect(screen.getByRole('navigation', { name: 'Main' })).toBeTruthy();

    await vi.advanceTimersByTimeAsync(5 * 60_000 + 5_000);
    expect(await screen.findByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    expect(ipc.sent('lock_app')).toHaveLength(1);
    // Locked, it does not lock again however long it stays unused.
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    expect(ipc.sent('lock_app')).toHaveLength(1);
  });

  it('lets Settings choose when it locks by itself, or never', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const ipc = backend();
    render(App);
    await screen.findAllByTestId('device');
    await fireEvent.click(screen.getByRole('button', { name: /Settings/ }));
    const choice = screen.getByLabelText('Lock when unused for') as HTMLSelectElement;
    expect(choice.selectedOptions[0]?.textContent).toBe('15 minutes');
    await fireEvent.change(choice, { target: { value: '60' } });
    await fireEvent.change(choice, { target: { value: '0' } });
    expect(ipc.sent('set_auto_lock')).toEqual([{ minutes: 60 }, { minutes: 0 }]);
    await vi.waitFor(() => expect(choice.selectedOptions[0]?.textContent).toBe('Never'));

    await vi.advanceTimersByTimeAsync(8 * 60 * 60_000);
    expect(ipc.sent('lock_app')).toHaveLength(0);
  });

  it('shows the removed screen when this device is revoked while locked', async () => {
    const ipc = backend({ locked: true });
    render(App);
    await screen.findByRole('heading', { name: 'Enigm is locked' });
    ipc.revoke();
    await emit('session-update', {
      event: 'state',
      session: { state: 'revoked', at: 1_800_000_000, signed_at: null, by: null, reason: 'revoked', replaced_by: null },
    });
    expect(await screen.findByRole('heading', { name: 'This computer was removed from your account' })).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'Enigm is locked' })).toBeNull();
  });

  it('names the locked account, and a forgotten password leads to the restore with the phrase', async () => {
    const ipc = backend({ locked: true });
    render(App);
    expect(await screen.findByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    expect(screen.getByTestId('locked-account').textContent).toContain('dana');

    await fireEvent.click(screen.getByRole('button', { name: 'Forgot your password?' }));
    const forgot = screen.getByTestId('forgot').textContent?.replace(/\s+/g, ' ');
    expect(forgot).toContain('A new password you set on another of your devices works here too');
    expect(forgot).toContain('Restore with your recovery phrase');
    expect(screen.queryByLabelText('Password')).toBeNull();
    // Back to the form changes nothing.
    await fireEvent.click(screen.getByRole('button', { name: 'Back' }));
    expect(screen.getByLabelText('Password')).toBeTruthy();
    expect(ipc.sent('erase_to_restore')).toHaveLength(0);

    await fireEvent.click(screen.getByRole('button', { name: 'Forgot your password?' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Erase and restore' }));
    expect(await screen.findByRole('heading', { name: 'Restore your account' })).toBeTruthy();
    expect(ipc.sent('erase_to_restore')).toHaveLength(1);
    expect(((await screen.findByLabelText('Username')) as HTMLInputElement).value).toBe('dana');
    expect(ipc.sent('unlock_app')).toHaveLength(0);
  });

  it('says why when this computer cannot be erased, and stays locked', async () => {
    const ipc = backend({ locked: true });
    ipc.refuseErase({ code: 'keychain_locked', message: 'The keychain is locked; unlock it and try again.' });
    render(App);
    await fireEvent.click(await screen.findByRole('button', { name: 'Forgot your password?' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Erase and restore' }));
    expect((await screen.findByRole('alert')).textContent).toContain('The keychain is locked');
    expect(screen.getByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Erase and restore' }) as HTMLButtonElement).disabled).toBe(false);
  });
});
