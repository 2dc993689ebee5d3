import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type { SessionStatusView, SessionState } from './lib/bindings';
import { formatTime } from './lib/format';
import { active, device, signedIn, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const words = Array.from({ length: 24 }, (_, index) => `word${index + 1}`);

describe('first run and account creation', () => {
  it('creates an account, shows the phrase once as numbered words and checks three of them', async () => {
    const clipboard = vi.fn();
    Object.defineProperty(navigator, 'clipboard', { value: { writeText: clipboard }, configurable: true });
    let hasAccount = false;
    const calls: { cmd: string; args: unknown }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case 'app_status':
          return status(hasAccount, hasAccount ? active : { state: 'signed_out' });
        case 'create_account':
          hasAccount = true;
          return { words };
        case 'list_devices':
          return twoDevices;
        default:
          return undefined;
      }
    });
    render(App);
    await fireEvent.click(await screen.findByRole('button', { name: /Create account/ }));
    expect((screen.getByLabelText('Service address') as HTMLInputElement).value).toBe('http://127.0.0.1:4000');
    await fireEvent.input(screen.getByLabelText('Username'), { target: { value: 'alice' } });
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'short' } });
    expect(screen.getByTestId('strength').textContent).toContain('Too short');
    expect((screen.getByRole('button', { name: 'Create account' }) as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'correct horse battery staple' } });
    expect(screen.getByTestId('strength').textContent).toContain('Strong');
    await fireEvent.click(screen.getByRole('button', { name: 'Create account' }));

    const phrase = await screen.findByRole('list', { name: 'Recovery phrase' });
    const items = within(phrase).getAllByRole('listitem');
    expect(items).toHaveLength(24);
    expect(items[0]?.textContent).toBe('1word1');
    expect(screen.getByRole('note').textContent).toContain('will not show them again');
    expect(calls.find((call) => call.cmd === 'create_account')?.args).toEqual({
      server: 'http://127.0.0.1:4000',
      username: 'alice',
      password: 'correct horse battery staple',
    });

    await fireEvent.click(screen.getByRole('button', { name: 'I wrote them down' }));
    const inputs = screen.getAllByLabelText(/^Word \d+$/) as HTMLInputElement[];
    expect(inputs).toHaveLength(3);
    for (const input of inputs) {
      await fireEvent.input(input, { target: { value: 'wrong' } });
    }
    await fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect((await screen.findByRole('alert')).textContent).toContain('does not match');
    expect(calls, 'nothing is put in force before the words match').not.toContain('confirm_recovery_phrase');
    expect(calls.filter((call) => call.cmd === 'app_status')).toHaveLength(1);

    for (const input of inputs) {
      const position = Number(input.id.replace('word-', ''));
      await fireEvent.input(input, { target: { value: ` ${words[position]?.toUpperCase()} ` } });
    }
    await fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect(await screen.findByText('Device list verified')).toBeTruthy();
    expect(clipboard).not.toHaveBeenCalled();
  });

  it('keeps the form and says why when the service refuses', async () => {
    mockIPC((cmd) => {
      if (cmd === 'app_status') return status(false, { state: 'signed_out' });
      throw { code: 'username_taken', message: 'That username is taken.' };
    });
    render(App);
    await fireEvent.click(await screen.findByRole('button', { name: /Create account/ }));
    await fireEvent.input(screen.getByLabelText('Username'), { target: { value: 'alice' } });
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'correct horse battery staple' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect((await screen.findByRole('alert')).textContent).toContain('That username is taken.');
    expect((screen.getByLabelText('Username') as HTMLInputElement).value).toBe('alice');
  });
});

describe('sign in', () => {
  it('shows a wrong password plainly, then signs in', async () => {
    let signedIn = false;
    mockIPC((cmd, args) => {
      if (cmd === 'app_status') return status(true, signedIn ? active : { state: 'signed_out' });
      if (cmd === 'list_devices') return twoDevices;
      if (cmd === 'sign_in') {
        if ((args as { password: string }).password !== 'right') {
          throw { code: 'wrong_password', message: 'The username or password is wrong.' };
        }
        signedIn = true;
      }
      return undefined;
    });
    render(App);
    await fireEvent.input(await screen.findByLabelText('Username'), { target: { value: 'alice' } });
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'nope' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toContain('The username or password is wrong.');
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'right' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();
  });
});

describe('too many attempts', () => {
  it('says when to try again, counts down, and waits until then', async () => {
    // Only the clock is fake: the countdown's own timer runs, reading the time set here.
    vi.useFakeTimers({ toFake: ['Date'] });
    const attempts: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === 'app_status') return status(true, { state: 'signed_out' });
      if (cmd === 'sign_in') {
        attempts.push(args);
        throw { code: 'rate_limited', message: 'Too many attempts.', retry_after: 42 };
      }
      return undefined;
    });
    render(App);
    await fireEvent.input(await screen.findByLabelText('Username'), { target: { value: 'alice' } });
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'nope' } });
    const button = screen.getByRole('button', { name: 'Sign in' }) as HTMLButtonElement;
    await fireEvent.click(button);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(/Too many attempts\.\s+Try again in 42 seconds\./);
    expect(button.disabled).toBe(true);

    vi.setSystemTime(Date.now() + 30_000);
    expect(await screen.findByText('Try again in 12 seconds.')).toBeTruthy();
    await fireEvent.submit(button.form as HTMLFormElement);
    expect(attempts).toHaveLength(1);

    vi.setSystemTime(Date.now() + 12_000);
    expect(await screen.findByText('You can try again now.')).toBeTruthy();
    expect(button.disabled).toBe(false);
    // No longer an error: not in a red box, and the refusal's text is gone.
    const over = screen.getByTestId('retry-wait').closest('.alert') as HTMLElement;
    expect(over.classList.contains('danger')).toBe(false);
    expect(over.textContent).not.toContain('Too many attempts');
  });
});

describe('devices', () => {
  it('marks this computer, shows verification and asks before removing a device', async () => {
    const ipc = signedIn((cmd) => (cmd === 'change_device' ? twoDevices.devices[1] : undefined));
    const changes = () => ipc.sent('change_device');
    render(App);
    const rows = await screen.findAllByTestId('device');
    expect(rows[0]?.textContent).toContain('This computer');
    expect(rows[0]?.textContent).toContain('AAAA-BBBB-CCCC');
    expect(within(rows[0] as HTMLElement).queryByRole('button', { name: 'Remove…' })).toBeNull();
    const badge = rows[1]?.querySelector('[data-state="active"]');
    expect(badge?.getAttribute('title')).toContain('can use the account');
    expect(badge?.textContent).toContain('Active');
    expect(rows[1]?.textContent).toContain('Seen 3 days ago');
    expect(screen.getByTestId('verified').textContent).toContain('Device list verified');

    await fireEvent.click(within(rows[1] as HTMLElement).getByRole('button', { name: 'Remove…' }));
    const dialog = screen.getByRole('alertdialog');
    expect(dialog.textContent).toContain('Work laptop');
    expect(changes()).toHaveLength(0);
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(changes()).toHaveLength(0);

    // Leaving is a calm "no longer used" unless the person says it was lost or stolen, and the
    // removed device is told which.
    await fireEvent.click(within(rows[1] as HTMLElement).getByRole('button', { name: 'Remove…' }));
    expect((screen.getByRole('radio', { name: /I no longer use it/ }) as HTMLInputElement).checked).toBe(true);
    await fireEvent.click(screen.getByRole('button', { name: 'Remove device' }));
    await vi.waitFor(() =>
      expect(changes()).toEqual([{ deviceId: 'bbbb1111', action: 'revoke', reason: 'decommissioned' }]),
    );
    await fireEvent.click(within(rows[1] as HTMLElement).getByRole('button', { name: 'Remove…' }));
    await fireEvent.click(screen.getByRole('radio', { name: /It was stolen/ }));
    await fireEvent.click(screen.getByRole('button', { name: 'Remove device' }));
    await vi.waitFor(() => expect(changes()[1]).toEqual({ deviceId: 'bbbb1111', action: 'revoke', reason: 'stolen' }));
  });

  it('retires a removed device, and offers no move against this computer', async () => {
    const removed = {
      ...twoDevices,
      devices: [
        twoDevices.devices[0]!,
        device({
          device_id: 'cccc2222',
          fingerprint: 'GGGG-HHHH-IIII',
          label: 'Old phone',
          state: 'revoked',
          this_device: false,
        }),
      ],
    };
    const ipc = signedIn((cmd) => (cmd === 'change_device' ? removed.devices[1] : undefined), { list: removed });
    render(App);
    const rows = await screen.findAllByTestId('device');
    expect(within(rows[0] as HTMLElement).queryByRole('button', { name: 'Retire' })).toBeNull();
    expect(within(rows[1] as HTMLElement).queryByRole('button', { name: 'Remove…' })).toBeNull();
    await fireEvent.click(within(rows[1] as HTMLElement).getByRole('button', { name: 'Retire' }));
    await vi.waitFor(() => expect(ipc.sent('change_device')).toEqual([{ deviceId: 'cccc2222', action: 'retire', reason: null }]));
  });

  it('warns loudly when the device list fails verification', async () => {
    mockIPC((cmd) => {
      if (cmd === 'app_status') return status(true, active);
      throw { code: 'ledger_rejected', message: 'The device list from the service failed verification.' };
    });
    render(App);
    const warning = await screen.findByTestId('verification-failed');
    expect(warning.getAttribute('role')).toBe('alert');
    expect(warning.textContent).toContain('failed verification');
    expect(screen.queryByText('Device list verified')).toBeNull();
  });

  it('warns when another device has seen a device list the service hides from this computer', async () => {
    mockIPC((cmd) => {
      if (cmd === 'app_status') return status(true, active);
      throw { code: 'ledger_withheld', message: 'Another device of this account has seen the device list up to entry 3.' };
    });
    render(App);
    const warning = await screen.findByTestId('ledger-withheld');
    expect(warning.getAttribute('role')).toBe('alert');
    expect(warning.textContent).toContain('may be hiding');
    expect(warning.textContent).toContain('up to entry 3');
    expect(screen.queryByText('Device list verified')).toBeNull();
  });

  it('says nothing about when a device was seen when the service has not said', async () => {
    const unseen = { ...twoDevices, devices: twoDevices.devices.map((device) => ({ ...device, last_seen: null })) };
    mockIPC((cmd) => {
      if (cmd === 'app_status') return status(true, active);
      if (cmd === 'list_devices') return unseen;
      return undefined;
    });
    render(App);
    const rows = await screen.findAllByTestId('device');
    expect(rows).toHaveLength(2);
    expect(rows[1]?.textContent).toContain('Work laptop');
    expect(rows[1]?.textContent).not.toContain('Seen');
  });

  it('shows the last verified list and an offline banner when the service is unreachable', async () => {
    mockIPC((cmd) => {
      if (cmd === 'app_status') return status(true, active);
      if (cmd === 'list_devices') return { ...twoDevices, synced: false };
      return undefined;
    });
    render(App);
    expect((await screen.findByTestId('offline')).textContent).toContain('cannot be reached');
    expect(screen.getByTestId('verified').textContent).toContain('last known');
  });
});

describe('live updates', () => {
  it('shows the removed screen when the service says this device was revoked', async () => {
    mockIPC(
      (cmd) => {
        if (cmd === 'app_status') return status(true, active);
        if (cmd === 'list_devices') return twoDevices;
        return undefined;
      },
      { shouldMockEvents: true },
    );
    render(App);
    await screen.findAllByTestId('device');
    await emit('session-update', { event: 'offline', retry_in_ms: 500 });
    expect(await screen.findByTestId('offline')).toBeTruthy();
    await emit('session-update', { event: 'online' });
    await vi.waitFor(() => expect(screen.queryByTestId('offline')).toBeNull());
    await emit('session-update', {
      event: 'state',
      session: {
        state: 'revoked',
        at: 1_800_000_000,
        signed_at: 1_799_999_000,
        by: { kind: 'device', label: 'Work laptop', fingerprint: 'ABCD EFGH IJKL MNOP' },
        reason: 'lost',
        replaced_by: null,
      },
    });
    expect(await screen.findByRole('heading', { name: 'This computer was removed from your account' })).toBeTruthy();
    // When the remover's entry says, by its clock: "around", not when this computer heard.
    expect(screen.getByTestId('removed-by').textContent).toContain(
      `Removed by Work laptop (ABCD EFGH IJKL MNOP) around ${formatTime(1_799_999_000)}.`,
    );
    expect(screen.getByTestId('removed-reason').textContent).toBe('This computer was reported lost.');
  });

  it('says plainly when it could not confirm who removed this device', async () => {
    mockIPC((cmd) => {
      if (cmd === 'app_status')
        return status(true, { state: 'revoked', at: 1_800_000_000, signed_at: null, by: null, reason: 'revoked', replaced_by: null });
      return undefined;
    });
    render(App);
    expect((await screen.findByTestId('removed-by')).textContent).toContain(
      'Enigm could not confirm which device did it.',
    );
    expect(screen.queryByTestId('removed-reason')).toBeNull();
  });

  it('names the device that replaced this one', async () => {
    mockIPC((cmd) => {
      if (cmd === 'app_status')
        return status(true, {
          state: 'revoked',
          at: 1_800_000_000,
          signed_at: null,
          by: { kind: 'device', label: null, fingerprint: 'ABCD EFGH IJKL MNOP' },
          reason: 'replaced',
          replaced_by: { label: 'Desk', fingerprint: 'QRST UVWX YZ23 4567' },
        });
      return undefined;
    });
    render(App);
    expect((await screen.findByTestId('removed-by')).textContent).toContain(
      'Replaced by Desk (QRST UVWX YZ23 4567), approved by a device (ABCD EFGH IJKL MNOP) on',
    );
  });
});

describe('notices', () => {
  it('tells when another device joins or is removed, and when the recovery phrase is used, until dismissed', async () => {
    mockIPC(
      (cmd) => {
        if (cmd === 'app_status') return status(true, active);
        if (cmd === 'list_devices') return twoDevices;
        return undefined;
      },
      { shouldMockEvents: true },
    );
    render(App);
    await screen.findAllByTestId('device');
    const laptop = twoDevices.devices[1];
    await emit('session-update', { event: 'device_news', news: 'joined', device: laptop });
    await emit('session-update', {
      event: 'device_news',
      news: 'removed',
      device: { ...laptop, state: 'revoked' },
    });
    await emit('session-update', { event: 'recovery_started' });
    await vi.waitFor(() => expect(screen.getAllByTestId('notice')).toHaveLength(3));
    const texts = screen.getAllByTestId('notice').map((notice) => notice.textContent ?? '');
    expect(texts[0]).toContain('Work laptop joined your account.');
    expect(texts[1]).toContain('Work laptop was removed from your account.');
    expect(texts[2]).toContain('recovery phrase is being used');
    const [joined] = screen.getAllByTestId('notice');
    await fireEvent.click(within(joined as HTMLElement).getByRole('button', { name: 'Dismiss' }));
    await vi.waitFor(() => expect(screen.getAllByTestId('notice')).toHaveLength(2));
    expect(screen.queryByText('Work laptop joined your account.')).toBeNull();
  });
});

describe('session and settings', () => {
  it('lists a decision per operation with the reasons', async () => {
    const session: SessionStatusView = {
      account_state: 'active',
      device_state: 'active',
      session_kind: 'full',
      expires_at: 1_900_000_000,
      recovery_epoch: 2,
      decisions: [
        { operation: 'sync', outcome: 'allow', reasons: [] },
        {
          operation: 'change_devices',
          outcome: 'step_up',
          reasons: [{ code: 'step_up_required', message: 'This action needs you to confirm your password again.' }],
        },
        { operation: 'messaging', outcome: 'allow', reasons: [] },
        { operation: 'enroll', outcome: 'deny', reasons: [{ code: 'device_already_enrolled', message: 'Already in.' }] },
        {
          operation: 'admin',
          outcome: 'deny',
          reasons: [{ code: 'not_admin', message: 'This account is not an administrator of an organization.' }],
        },
      ],
    };
    mockIPC((cmd) => {
      if (cmd === 'app_status') return status(true, active);
      if (cmd === 'list_devices') return twoDevices;
      if (cmd === 'session_status') return session;
      return undefined;
    });
    render(App);
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    await fireEvent.click(within(nav).getByRole('button', { name: 'Session' }));
    const list = await screen.findByRole('list', { name: 'Decisions per operation' });
    const rows = within(list).getAllByRole('listitem');
    expect(rows[0]?.textContent).toContain('Sync with your other devices');
    expect(rows[0]?.textContent).toContain('Allowed');
    expect(list.textContent).toContain('Needs your password');
    expect(list.textContent).toContain('confirm your password again');
    // Only what this app offers a person: no messages, no joining an account it is in, no
    // organization administration on a personal account, so no red "Not allowed" for nothing.
    expect(list.querySelectorAll(':scope > li')).toHaveLength(2);
    expect(list.textContent).not.toContain('Not allowed');
    expect(list.textContent).not.toContain('messages');
    expect(screen.getByTestId('recovery-epoch').textContent).toBe('2 times');
    expect(screen.queryByText('Recovery epoch')).toBeNull();

    await fireEvent.keyDown(within(nav).getByRole('button', { name: 'Session' }), { key: 'ArrowDown' });
    await fireEvent.keyDown(within(nav).getByRole('button', { name: 'Recovery' }), { key: 'ArrowDown' });
    const facts = screen.getByLabelText('This computer');
    expect(facts.textContent).toContain('Encrypted');
    expect(facts.textContent).toContain('Secret Service');
    expect(screen.queryByText(/keychain: Secret Service/)).toBeNull();
  });
});

describe('signing out', () => {
  it('ends the session at the service and shows the sign-in screen', async () => {
    let session: SessionState = active;
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === 'app_status') return status(true, session);
      if (cmd === 'list_devices') return twoDevices;
      if (cmd === 'sign_out') {
        session = { state: 'signed_out' };
        return 'ended';
      }
      return undefined;
    });
    render(App);
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    await fireEvent.click(within(nav).getByRole('button', { name: 'Settings' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByLabelText('Password')).toBeTruthy();
    expect(calls.filter((cmd) => cmd === 'sign_out')).toHaveLength(1);
  });

  it('says so when only this computer forgot the session', async () => {
    let session: SessionState = active;
    mockIPC((cmd) => {
      if (cmd === 'app_status') return status(true, session);
      if (cmd === 'list_devices') return twoDevices;
      if (cmd === 'sign_out') {
        session = { state: 'signed_out' };
        return 'forgotten_locally';
      }
      return undefined;
    });
    render(App);
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    await fireEvent.click(within(nav).getByRole('button', { name: 'Settings' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    // Straight to signing in, with no sidebar left, saying the service was not told.
    expect((await screen.findByTestId('signed-out-locally')).textContent).toContain('could not be reached');
    expect(screen.getByLabelText('Password')).toBeTruthy();
    expect(screen.queryByRole('navigation', { name: 'Main' })).toBeNull();
  });
});

describe('regenerating the recovery phrase', () => {
  it('asks first, shows the new phrase once as numbered words and checks three of them', async () => {
    const clipboard = vi.fn();
    Object.defineProperty(navigator, 'clipboard', { value: { writeText: clipboard }, configurable: true });
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === 'app_status') return status(true, active);
      if (cmd === 'list_devices') return twoDevices;
      if (cmd === 'regenerate_recovery_phrase') return { words };
      return undefined;
    });
    render(App);
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    await fireEvent.click(within(nav).getByRole('button', { name: 'Recovery' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Regenerate recovery phrase' }));
    expect(calls).not.toContain('regenerate_recovery_phrase');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(calls).not.toContain('regenerate_recovery_phrase');
    await fireEvent.click(screen.getByRole('button', { name: 'Regenerate recovery phrase' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Make a new phrase' }));

    const phrase = await screen.findByRole('list', { name: 'Recovery phrase' });
    const items = within(phrase).getAllByRole('listitem');
    expect(items).toHaveLength(24);
    expect(items[23]?.textContent).toBe('24word24');
    expect(screen.getByRole('note').textContent).toContain('will not show them again');

    await fireEvent.click(screen.getByRole('button', { name: 'I wrote them down' }));
    const inputs = screen.getAllByLabelText(/^Word \d+$/) as HTMLInputElement[];
    expect(inputs).toHaveLength(3);
    await fireEvent.input(inputs[0] as HTMLInputElement, { target: { value: 'wrong' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect((await screen.findByRole('alert')).textContent).toContain('does not match');
    expect(calls, 'nothing is put in force before the words match').not.toContain('confirm_recovery_phrase');
    for (const input of inputs) {
      const position = Number(input.id.replace('word-', ''));
      await fireEvent.input(input, { target: { value: words[position] } });
    }
    await fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect((await screen.findByTestId('phrase-replaced')).textContent).toContain('old one no longer works');
    expect(screen.queryByRole('list', { name: 'Recovery phrase' })).toBeNull();
    expect(calls.filter((cmd) => cmd === 'regenerate_recovery_phrase')).toHaveLength(1);
    expect(calls.filter((cmd) => cmd === 'confirm_recovery_phrase')).toHaveLength(1);
    expect(clipboard).not.toHaveBeenCalled();
  });

  it('keeps the old phrase and says why when the service refuses', async () => {
    mockIPC((cmd) => {
      if (cmd === 'app_status') return status(true, active);
      if (cmd === 'list_devices') return twoDevices;
      if (cmd === 'regenerate_recovery_phrase') {
        throw { code: 'not_allowed', message: 'This device may not change the account.' };
      }
      return undefined;
    });
    render(App);
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    await fireEvent.click(within(nav).getByRole('button', { name: 'Recovery' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Regenerate recovery phrase' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Make a new phrase' }));
    expect((await screen.findByRole('alert')).textContent).toContain('may not change the account');
    expect(screen.queryByRole('list', { name: 'Recovery phrase' })).toBeNull();
  });
});

describe('store problems', () => {
  it('explains a keychain problem and offers a retry', async () => {
    mockIPC(() => {
      throw { code: 'keychain_unavailable', message: 'Start your keychain and try again.' };
    });
    render(App);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('No keychain available');
    expect(alert.textContent).toContain('Start your keychain and try again.');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeTruthy();
  });

  it('never shows internal error text from an unexpected failure', async () => {
    mockIPC(() => {
      throw new Error('/home/someone/.local/share/enigm/profile: os error 13');
    });
    render(App);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).not.toContain('/home/someone');
    expect(alert.textContent).toContain('Something went wrong inside Enigm');
  });
});
