// The Lock: the app hides the account behind the Locked screen until the password is typed
// again. The backend is mocked; what is checked is what the user sees and what reaches it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type { LockView, SessionView } from './lib/bindings';
import { active, status, twoDevices, unlocked } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** A backend that checks the password like the engine: three free tries, then a wait. */
function backend(initial: Partial<LockView> = {}) {
  const calls: { cmd: string; args: unknown }[] = [];
  let lock: LockView = { ...unlocked, ...initial };
  let session: SessionView = active;
  let failures = 0;
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case 'app_status':
          return status(true, session, lock);
        case 'list_devices':
          if (lock.locked) throw { code: 'locked', message: 'Enigm is locked.' };
          return twoDevices;
        case 'lock_app':
          lock = { ...lock, locked: true };
          return lock;
        case 'set_auto_lock':
          lock = { ...lock, auto_lock_minutes: (args as { minutes: number }).minutes };
          return lock;
        case 'unlock_app': {
          const { username, password } = args as { username: string | null; password: string };
          if (!lock.offline_unlock && username === null) {
            throw { code: 'unlock_needs_username', message: 'Enter your username too.' };
          }
          if (password !== 'right') {
            failures++;
            lock = { ...lock, retry_in: failures >= 3 ? 5 : 0 };
            throw {
              code: 'unlock_wrong_password',
              message: `That is not your account password${failures >= 3 ? '; try again in 5 seconds' : ''}.`,
            };
          }
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
    revoke: () => {
      session = { state: 'revoked', at: 1_800_000_000, by: null, reason: 'revoked', replaced_by: null };
    },
  };
}

async function typePassword(value: string) {
  await fireEvent.input(screen.getByLabelText('Password'), { target: { value } });
  await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
}

describe('lock', () => {
  it('locks from Settings and with Ctrl+L, hiding every section until unlocked', async () => {
    const ipc = backend();
    render(App);
    await screen.findAllByTestId('device');
    await fireEvent.click(screen.getByRole('button', { name: /Settings/ }));
    await fireEvent.click(screen.getByRole('button', { name: /Lock now/ }));
    expect(await screen.findByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    expect(screen.queryByRole('navigation', { name: 'Main' })).toBeNull();
    expect(screen.queryByText('Work laptop')).toBeNull();
    expect(ipc.sent('lock_app')).toHaveLength(1);

    await typePassword('right');
    expect(ipc.sent('unlock_app')).toEqual([{ username: null, password: 'right' }]);
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();

    await fireEvent.keyDown(window, { key: 'l', ctrlKey: true });
    expect(await screen.findByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    expect(ipc.sent('lock_app')).toHaveLength(2);
    // Ctrl+L on the Locked screen does not lock again.
    await fireEvent.keyDown(window, { key: 'l', ctrlKey: true });
    expect(ipc.sent('lock_app')).toHaveLength(2);
  });

  it('starts locked after a restart, says a password is wrong and counts the wait down', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const ipc = backend({ locked: true });
    render(App);
    expect(await screen.findByRole('heading', { name: 'Enigm is locked' })).toBeTruthy();
    expect(ipc.sent('list_devices')).toHaveLength(0);
    expect(screen.queryByTestId('unlock-online')).toBeNull();
    expect(screen.queryByLabelText('Username')).toBeNull();

    await typePassword('wrong');
    const error = await screen.findByTestId('unlock-error');
    expect(error.textContent).toContain('That is not your account password.');
    expect((screen.getByLabelText('Password') as HTMLInputElement).value).toBe('');
    await typePassword('wrong');
    await vi.waitFor(() => expect(ipc.sent('unlock_app')).toHaveLength(2));
    await typePassword('wrong');
    await vi.waitFor(() =>
      expect(screen.getByTestId('unlock-error').textContent).toContain('try again in 5 seconds'),
    );
    expect((await screen.findByTestId('unlock-wait')).textContent).toContain('try again in 5 seconds');
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'right' } });
    const button = screen.getByRole('button', { name: /Wait 5 seconds/ }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);

    await vi.advanceTimersByTimeAsync(2000);
    expect(screen.getByTestId('unlock-wait').textContent).toContain('3 seconds');
    await vi.advanceTimersByTimeAsync(3000);
    expect(screen.queryByTestId('unlock-wait')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();
    expect(ipc.sent('unlock_app')).toHaveLength(4);
  });

  it('asks an older profile for the username too, and says why', async () => {
    const ipc = backend({ locked: true, offline_unlock: false });
    render(App);
    expect((await screen.findByTestId('unlock-online')).textContent).toContain('signs in with your Enigm service');
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'right' } });
    const unlock = screen.getByRole('button', { name: 'Unlock' }) as HTMLButtonElement;
    expect(unlock.disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText('Username'), { target: { value: 'alice' } });
    await fireEvent.click(unlock);
    expect(ipc.sent('unlock_app')).toEqual([{ username: 'alice', password: 'right' }]);
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();
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
      session: { state: 'revoked', at: 1_800_000_000, by: null, reason: 'revoked', replaced_by: null },
    });
    expect(await screen.findByRole('heading', { name: 'This device was removed from your account' })).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'Enigm is locked' })).toBeNull();
  });
});
