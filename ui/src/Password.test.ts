// Change password: in Settings, and as the way out of a code mismatch when approving a device
// (someone may know the password). The backend is mocked; what is checked is what the user sees
// and what reaches it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import type { EnrollmentRequest } from './lib/bindings';
import { compareCode, enrollmentRequest, signedIn } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
  vi.restoreAllMocks();
});

/** A backend whose password is `old` until changed; one other session signed in. */
function backend(requests: EnrollmentRequest[] = []) {
  let password = 'old';
  let finish: ((outcome: string) => void) | null = null;
  const ipc = signedIn(
    (cmd, args) => {
      switch (cmd) {
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
    { events: true },
  );
  return { sent: ipc.sent, finish: (outcome: string) => finish?.(outcome) };
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
    const ipc = backend([enrollmentRequest()]);
    render(App);
    await compareCode('482913');
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
