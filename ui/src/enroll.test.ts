// Enrollment by approval in the window: adding this computer, and approving from a trusted one.
// The backend is mocked; what is checked is what the user sees and what reaches the backend.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type {
  DeviceView,
  EnrollmentOutcome,
  EnrollmentProgress,
  EnrollmentRequest,
  SessionState,
} from './lib/bindings';
import { active, askToReplace, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
  vi.restoreAllMocks();
});

const code: EnrollmentProgress = {
  event: 'code',
  code: '482 913',
  emoji: [
    { symbol: '🐶', name: 'Dog' },
    { symbol: '🐱', name: 'Cat' },
    { symbol: '🦁', name: 'Lion' },
    { symbol: '🐎', name: 'Horse' },
    { symbol: '🦄', name: 'Unicorn' },
    { symbol: '🐷', name: 'Pig' },
    { symbol: '🐘', name: 'Elephant' },
  ],
  replaces: null,
};

/** A backend whose enrollment ends when the test says so; it records every call. */
function backend(
  options: { hasAccount?: boolean; requests?: EnrollmentRequest[]; session?: SessionState; replaceable?: DeviceView[] } = {},
) {
  const calls: { cmd: string; args: unknown }[] = [];
  let finish: (outcome: EnrollmentOutcome) => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  let hasAccount = options.hasAccount ?? false;
  let requests = options.requests ?? [];
  const ended = () =>
    new Promise<EnrollmentOutcome>((resolve, reject) => {
      finish = (outcome) => {
        if (outcome === 'active') hasAccount = true;
        resolve(outcome);
      };
      fail = reject;
    });
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case 'app_status':
          return status(hasAccount, hasAccount ? (options.session ?? active) : { state: 'signed_out' });
        case 'list_devices':
          return twoDevices;
        case 'replaceable_devices':
          return options.replaceable ?? [];
        case 'abandon_joining':
          hasAccount = false;
          return undefined;
        case 'enrollment_requests':
          return requests;
        case 'enroll_this_computer':
        case 'approve_enrollment':
          return ended();
        case 'reject_enrollment':
          requests = [];
          return undefined;
        default:
          return undefined;
      }
    },
    { shouldMockEvents: true },
  );
  return {
    calls,
    finish: (outcome: EnrollmentOutcome) => finish(outcome),
    fail: (error: unknown) => fail(error),
    sent: (cmd: string) => calls.filter((call) => call.cmd === cmd).map((call) => call.args),
    setRequests: (open: EnrollmentRequest[]) => {
      requests = open;
    },
  };
}

/** The code is shown and the user says it differs from the other screen's: that answer, and
 * only it, reaches the backend, and the run ends as `codes_differ`. */
async function codesDiffer(ipc: ReturnType<typeof backend>) {
  await emit('enrollment-progress', code);
  await fireEvent.click(await screen.findByRole('button', { name: 'Codes differ' }));
  expect(ipc.sent('confirm_short_code')).toEqual([{ same: false }]);
  ipc.finish('codes_differ');
}

async function startAdding() {
  render(App);
  await fireEvent.click(await screen.findByRole('button', { name: /Add this computer/ }));
  expect((screen.getByLabelText('Service address') as HTMLInputElement).value).toBe('http://127.0.0.1:4000');
  await fireEvent.input(screen.getByLabelText('Username'), { target: { value: 'alice' } });
  await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'correct horse battery staple' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Add this computer' }));
  await screen.findByRole('heading', { name: 'Waiting for your other device' });
}

describe('add this computer', () => {
  it('waits for the other device, shows the code grouped with named emoji, and lands on Devices', async () => {
    const ipc = backend();
    await startAdding();
    expect(ipc.sent('enroll_this_computer')).toEqual([
      { server: 'http://127.0.0.1:4000', username: 'alice', password: 'correct horse battery staple', replaces: null },
    ]);
    expect(screen.getByRole('listitem', { current: 'step' }).textContent).toContain('Sign in');

    await emit('enrollment-progress', { event: 'requested' });
    await vi.waitFor(() =>
      expect(screen.getByRole('listitem', { current: 'step' }).textContent).toContain('Ask your other device'),
    );
    expect(screen.getByText('Compare code')).toBeTruthy();

    await emit('enrollment-progress', code);
    expect((await screen.findByTestId('short-code-digits')).textContent).toBe('482 913');
    const emoji = within(screen.getByRole('list', { name: 'Emoji' })).getAllByRole('listitem');
    expect(emoji.map((item) => item.textContent)).toEqual([
      '🐶Dog',
      '🐱Cat',
      '🦁Lion',
      '🐎Horse',
      '🦄Unicorn',
      '🐷Pig',
      '🐘Elephant',
    ]);
    expect(screen.getByText('Same code on both screens?')).toBeTruthy();
    expect(ipc.sent('confirm_short_code')).toEqual([]);

    await fireEvent.click(screen.getByRole('button', { name: 'Yes, same code' }));
    expect(ipc.sent('confirm_short_code')).toEqual([{ same: true }]);
    expect(await screen.findByRole('heading', { name: 'Finishing…' })).toBeTruthy();

    ipc.finish('active');
    expect(await screen.findByText('Device list verified')).toBeTruthy();
    expect(screen.getByTestId('notice').textContent).toContain('You’re in: this computer is now one of your account’s devices');
  });

  it('says the codes differed when the user saw different codes, and can ask again', async () => {
    const ipc = backend();
    await startAdding();
    await codesDiffer(ipc);
    const outcome = await screen.findByTestId('enroll-outcome');
    expect(outcome.dataset.outcome).toBe('codes_differ');
    expect(screen.getByRole('heading', { name: 'The codes were different' })).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect((screen.getByLabelText('Username') as HTMLInputElement).value).toBe('alice');
  });

  it('cancels on request, at any step, and says nothing was added', async () => {
    const ipc = backend();
    await startAdding();
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(ipc.sent('cancel_enrollment')).toHaveLength(1);
    expect(screen.getByRole('button', { name: 'Cancelling…' })).toBeTruthy();
    ipc.finish('cancelled');
    expect(await screen.findByRole('heading', { name: 'Adding this computer was cancelled' })).toBeTruthy();
    expect(screen.getByText(/Nothing was added to your account\./)).toBeTruthy();
  });

  it.each([
    ['rejected', 'Your other device said no'],
    ['expired', 'The request expired'],
  ] as const)('shows a %s request plainly', async (outcome, title) => {
    const ipc = backend();
    await startAdding();
    await emit('enrollment-progress', { event: 'requested' });
    ipc.finish(outcome);
    expect(await screen.findByRole('heading', { name: title })).toBeTruthy();
    expect(screen.getByTestId('enroll-outcome').dataset.outcome).toBe(outcome);
  });

  it('offers to finish joining when this computer started and did not finish', async () => {
    mockIPC((cmd) => (cmd === 'app_status' ? status(true, { state: 'enrolling' }) : undefined));
    render(App);
    expect(await screen.findByRole('heading', { name: 'Add this computer' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Back' })).toBeNull();
    expect(screen.queryByRole('navigation', { name: 'Main' })).toBeNull();
  });

  it('replaces a device the user picks from the account, after signing in', async () => {
    const old: DeviceView = { ...twoDevices.devices[1]!, label: null, device_id: 'bbbb1111' };
    // Another active device stays to approve the replacement.
    const other: DeviceView = { ...twoDevices.devices[0]!, this_device: false };
    const ipc = backend({ replaceable: [old, other] });
    render(App);
    await askToReplace('alice', 'correct horse battery staple');
    expect(ipc.sent('replaceable_devices')).toEqual([
      { server: 'http://127.0.0.1:4000', username: 'alice', password: 'correct horse battery staple' },
    ]);
    expect(await screen.findByRole('heading', { name: 'Which device does this computer replace?' })).toBeTruthy();
    const choice = screen.getByRole('radio', { name: /DDDD-EEEE-FFFF/ });
    const replace = screen.getByRole('button', { name: 'Replace the chosen device' }) as HTMLButtonElement;
    expect(replace.disabled).toBe(true);
    expect(ipc.sent('enroll_this_computer')).toEqual([]);
    await fireEvent.click(choice);
    await fireEvent.click(replace);
    expect(ipc.sent('enroll_this_computer')).toEqual([
      {
        server: 'http://127.0.0.1:4000',
        username: 'alice',
        password: 'correct horse battery staple',
        replaces: 'bbbb1111',
      },
    ]);
    expect(await screen.findByRole('heading', { name: 'Waiting for your other device' })).toBeTruthy();
  });

  it('says when no device of the account can be replaced', async () => {
    backend({ replaceable: [] });
    render(App);
    await askToReplace('alice', 'pw');
    expect((await screen.findByRole('status')).textContent).toContain('only an active device can be');
    expect((screen.getByRole('button', { name: 'Replace the chosen device' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('starts over from a half-joined computer only after confirming, back to the first screen', async () => {
    const ipc = backend({ hasAccount: true, session: { state: 'enrolling' } });
    render(App);
    await fireEvent.click(await screen.findByRole('button', { name: 'Start over' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Start over?' });
    expect(dialog.textContent).toContain('forgets that account');
    await fireEvent.click(screen.getByRole('button', { name: 'Keep joining' }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(ipc.sent('abandon_joining')).toEqual([]);

    await fireEvent.click(screen.getByRole('button', { name: 'Start over' }));
    const confirm = within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Start over' });
    await fireEvent.click(confirm);
    expect(ipc.sent('abandon_joining')).toHaveLength(1);
    expect(await screen.findByRole('button', { name: /Create account/ })).toBeTruthy();
  });

  it('offers to start over once a request was made from the first screen', async () => {
    const ipc = backend();
    await startAdding();
    await emit('enrollment-progress', { event: 'requested' });
    ipc.finish('expired');
    await screen.findByRole('heading', { name: 'The request expired' });
    expect(screen.queryByRole('button', { name: 'Back' })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Start over' }));
    await fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Start over' }));
    expect(ipc.sent('abandon_joining')).toHaveLength(1);
    expect(await screen.findByRole('button', { name: /Create account/ })).toBeTruthy();
  });

  it('keeps the form and says why on a wrong password', async () => {
    const ipc = backend();
    await startAdding();
    ipc.fail({ code: 'wrong_password', message: 'The username or password is wrong.' });
    expect((await screen.findByRole('alert')).textContent).toContain('The username or password is wrong.');
    expect((screen.getByLabelText('Username') as HTMLInputElement).value).toBe('alice');
  });
});

describe('approving from a trusted device', () => {
  const request: EnrollmentRequest = {
    id: 'ab'.repeat(16),
    platform: 'linux',
    fingerprint: '1A2B-3C4D-5E6F',
    created_at: Math.floor(Date.now() / 1000) - 5,
    state: 'requested',
    replaces: null,
    replaces_this_device: false,
  };

  it('does not offer to approve a request that replaces this computer', async () => {
    const replaces = { device_id: 'aaaa', fingerprint: 'AAAA-BBBB-CCCC', label: 'This laptop' };
    const ipc = backend({ hasAccount: true, requests: [{ ...request, replaces, replaces_this_device: true }] });
    render(App);
    const card = await screen.findByTestId('enrollment-request');
    expect(within(card).getByTestId('replaces-this-device').textContent).toContain(
      'approve it from another of your devices',
    );
    expect(within(card).queryByRole('button', { name: 'Compare code' })).toBeNull();
    await fireEvent.click(within(card).getByRole('button', { name: 'Reject' }));
    expect(ipc.sent('reject_enrollment')).toHaveLength(1);
  });

  it('raises a request when the service pushes one, compares the code and approves', async () => {
    const ipc = backend({ hasAccount: true });
    render(App);
    await screen.findAllByTestId('device');
    expect(screen.queryByTestId('enrollment-request')).toBeNull();

    ipc.setRequests([request]);
    await emit('session-update', { event: 'enrollment_requested' });
    const card = await screen.findByTestId('enrollment-request');
    expect(screen.getByRole('heading', { name: 'A new device asks to join your account' })).toBeTruthy();
    expect(card.textContent).toContain('Linux');
    expect(card.textContent).toContain('just now');
    expect(card.textContent).toContain('1A2B-3C4D-5E6F');

    await fireEvent.click(within(card).getByRole('button', { name: 'Compare code' }));
    expect(ipc.sent('approve_enrollment')).toEqual([{ requestId: request.id }]);
    expect(await screen.findByRole('heading', { name: 'Waiting for the new device' })).toBeTruthy();
    await emit('enrollment-progress', code);
    expect((await screen.findByTestId('short-code-digits')).textContent).toBe('482 913');
    await fireEvent.click(screen.getByRole('button', { name: 'Yes, approve' }));
    expect(ipc.sent('confirm_short_code')).toEqual([{ same: true }]);
    ipc.setRequests([]);
    ipc.finish('active');
    const outcome = await screen.findByTestId('approve-outcome');
    expect(outcome.textContent).toContain('The new device is now active in your account.');
  });

  it('says which device a replacement removes, and announces the approval once', async () => {
    const replaces = { device_id: 'bbbb1111', fingerprint: 'DDDD-EEEE-FFFF', label: 'Work laptop' };
    const ipc = backend({ hasAccount: true, requests: [{ ...request, replaces }] });
    render(App);
    const card = await screen.findByTestId('enrollment-request');
    expect(within(card).getByTestId('replaces').textContent).toContain(
      'This new device replaces Work laptop (DDDD-EEEE-FFFF), which will be removed.',
    );
    await fireEvent.click(within(card).getByRole('button', { name: 'Compare code' }));
    await emit('enrollment-progress', { ...code, replaces });
    await screen.findByTestId('short-code-digits');
    expect(screen.getByTestId('replaces').textContent).toContain(
      'This new device replaces Work laptop (DDDD-EEEE-FFFF), which will be removed.',
    );
    await fireEvent.click(screen.getByRole('button', { name: 'Yes, approve' }));
    // The watch hears the new device join and the old one replaced, around the outcome.
    const newDevice = { ...twoDevices.devices[1]!, device_id: 'cccc', fingerprint: request.fingerprint, label: null };
    await emit('session-update', { event: 'device_news', news: 'joined', device: newDevice });
    await emit('session-update', {
      event: 'device_news',
      news: 'replaced',
      device: { ...twoDevices.devices[1]!, state: 'replaced' },
    });
    ipc.setRequests([]);
    ipc.finish('active');
    const outcome = await screen.findByTestId('approve-outcome');
    expect(outcome.textContent).toContain('The new device is now active in your account.');
    expect(outcome.textContent).toContain('Work laptop (DDDD-EEEE-FFFF) was removed.');
    expect(screen.queryAllByTestId('notice')).toHaveLength(0);
    // Another device joining later is still announced.
    await emit('session-update', {
      event: 'device_news',
      news: 'joined',
      device: { ...newDevice, fingerprint: '9999-8888-7777', label: 'Phone' },
    });
    await vi.waitFor(() => expect(screen.getAllByTestId('notice')).toHaveLength(1));
  });

  it('drops a request from the panel when the service says it changed (the new device cancelled)', async () => {
    const ipc = backend({ hasAccount: true, requests: [request] });
    render(App);
    await screen.findByTestId('enrollment-request');
    ipc.setRequests([{ ...request, state: 'cancelled' }]);
    await emit('session-update', { event: 'enrollment_updated' });
    await waitFor(() => expect(screen.queryByTestId('enrollment-requests')).toBeNull());
    expect(ipc.sent('enrollment_requests')).toHaveLength(2);
  });

  it('rejects a request without comparing, and a mismatch is not an approval', async () => {
    const ipc = backend({ hasAccount: true, requests: [request] });
    render(App);
    const card = await screen.findByTestId('enrollment-request');
    await fireEvent.click(within(card).getByRole('button', { name: 'Compare code' }));
    await codesDiffer(ipc);
    const ended = await screen.findByTestId('approve-outcome');
    expect(ended.dataset.outcome).toBe('codes_differ');
    expect(ended.textContent).toContain('someone else may know your password');
    await fireEvent.click(screen.getByRole('button', { name: 'Dismiss' }));

    const again = await screen.findByTestId('enrollment-request');
    await fireEvent.click(within(again).getByRole('button', { name: 'Reject' }));
    expect(ipc.sent('reject_enrollment')).toEqual([{ requestId: request.id }]);
    expect((await screen.findByTestId('approve-outcome')).textContent).toContain('Request rejected');
    expect(ipc.sent('approve_enrollment')).toHaveLength(1);
  });

  it('cancels an approval on request', async () => {
    const ipc = backend({ hasAccount: true, requests: [request] });
    render(App);
    await fireEvent.click(await screen.findByRole('button', { name: 'Compare code' }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Cancel' }));
    expect(ipc.sent('cancel_enrollment')).toHaveLength(1);
    ipc.finish('cancelled');
    expect((await screen.findByTestId('approve-outcome')).dataset.outcome).toBe('cancelled');
  });
});
