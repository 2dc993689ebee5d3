// Change password: in Settings, and as the way out of a code mismatch when approving a device
// (someone may know the password). The backend is mocked; what is checked is what the user sees
// and what reaches it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type { EnrollmentProgress, EnrollmentRequest } from './lib/bindings';
import { active, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
  vi.restoreAllMocks();
});

const request: EnrollmentRequest = {
  id: 'req-1',
  platform: 'linux',
  fingerprint: '1111-2222-3333',
  created_at: Math.floor(Date.now() / 1000) - 30,
  state: 'requested',
  replaces: null,
  replaces_this_device: false,
};

/** A backend whose password is `old` until changed; one other session signed in. */
function backend(requests: EnrollmentRequest[] = []) {
  const calls: { cmd: string; args: unknown }[] = [];
  let password = 'old';
  let finish: ((outcome: string) => void) | null = null;
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case 'app_status':
          return status(true, active);
        case 'list_devices':
          return twoDevices;
        case 'enrollment_requests':
          return requests;
        case 'approve_enrollment':
          return new Promise((resolve) => (finish = resolve));
        case 'change_password': {
          const { current, newPassword: next } = args as { current: string; newPassword: string };
          if (current !== password) {
            throw { code: 'current_password_wrong', message: 'The current password is wrong; the password was not changed.' };
          }
          password = next;
          return 1;
        }
        default:
          return undefined;
      }
    },
    { shouldMockEvents: true },
  );
  return {
    sent: (cmd: string) => calls.filter((call) => call.cmd === cmd).map((call) => call.args),
    finish: (outcome: string) => finish?.(outcome),
  };
}

async function fill(current: string, next: string, again: string) {
  await fireEvent.input(screen.getByLabelText('Current password'), { target: { value: current } });
  await fireEvent.input(screen.getByLabelText('New password'), { target: { value: next } });
  await fireEvent.input(screen.getByLabelText('New password again'), { target: { value: again } });
}

describe('change password', () => {
  it('asks for the current password and the new one twice, says a wrong one changed nothing, then changes it', async () => {
    const ipc = backend();
    render(App);
    await screen.findAllByTestId('device');
    await fireEvent.click(screen.getByRole('button', { name: /Settings/ }));
    const submit = screen.getByRole('button', { name: 'Change password' }) as HTMLButtonElement;
    expect(submit.disabled).toBe(true);

    // Two new passwords that differ: said, and nothing is sent.
    await fill('old', 'brand new', 'brand nwe');
    expect(screen.getByText('The two new passwords differ.')).toBeTruthy();
    expect(submit.disabled).toBe(true);
    await fireEvent.submit(submit.closest('form') as HTMLFormElement);
    expect(ipc.sent('change_password')).toHaveLength(0);

    // A wrong current password: the service's word, the password unchanged.
    await fill('wrong', 'brand new', 'brand new');
    await fireEvent.click(submit);
    expect((await screen.findByRole('alert')).textContent).toContain('The current password is wrong');

    await fill('old', 'brand new', 'brand new');
    await fireEvent.click(submit);
    const done = await screen.findByTestId('password-changed');
    expect(done.textContent).toContain('Your other devices were signed out');
    expect(ipc.sent('change_password')).toEqual([
      { current: 'wrong', newPassword: 'brand new' },
      { current: 'old', newPassword: 'brand new' },
    ]);
    // The fields are cleared: no password stays on screen.
    expect((screen.getByLabelText('Current password') as HTMLInputElement).value).toBe('');
    expect((screen.getByLabelText('New password') as HTMLInputElement).value).toBe('');
  });

  it('turns a code mismatch into a warning whose action is Change password', async () => {
    const ipc = backend([request]);
    render(App);
    const card = await screen.findByTestId('enrollment-request');
    await fireEvent.click(within(card).getByRole('button', { name: 'Compare code' }));
    const code: EnrollmentProgress = {
      event: 'code',
      code: '482913',
      emoji: [{ symbol: '🐶', name: 'Dog' }],
      replaces: null,
    };
    await emit('enrollment-progress', code);
    await fireEvent.click(await screen.findByRole('button', { name: 'Codes differ' }));
    ipc.finish('codes_differ');
    const warning = await screen.findByTestId('approve-outcome');
    expect(warning.getAttribute('role')).toBe('alert');
    expect(warning.classList.contains('warn')).toBe(true);
    expect(warning.textContent).toContain('someone else may know your password');
    await fireEvent.click(within(warning).getByRole('button', { name: 'Change password' }));
    expect(await screen.findByRole('heading', { name: 'Settings' })).toBeTruthy();
    await vi.waitFor(() => expect(document.activeElement?.id).toBe('current-password'));
    expect(screen.queryByTestId('approve-outcome')).toBeNull();
  });
});
