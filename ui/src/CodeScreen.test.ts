// The code screen on the approving device: only the code to compare (no fingerprint above it to
// compare by mistake), and one line for what each answer does.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type { EnrollmentProgress, EnrollmentRequest } from './lib/bindings';
import { active, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
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

describe('the code screen', () => {
  it('shows the code without the fingerprint and says what each answer does', async () => {
    mockIPC(
      (cmd) => {
        if (cmd === 'app_status') return status(true, active);
        if (cmd === 'list_devices') return twoDevices;
        if (cmd === 'enrollment_requests') return [request];
        if (cmd === 'approve_enrollment') return new Promise(() => undefined);
        return undefined;
      },
      { shouldMockEvents: true },
    );
    render(App);
    const card = await screen.findByTestId('enrollment-request');
    expect(screen.getByTestId('enrollment-requests').textContent).toContain('Reject refuses the request');
    await fireEvent.click(within(card).getByRole('button', { name: 'Compare code' }));
    const code: EnrollmentProgress = { event: 'code', code: '482 913', emoji: [{ symbol: '🐶', name: 'Dog' }], replaces: null };
    await emit('enrollment-progress', code);
    await screen.findByRole('button', { name: 'Codes differ' });
    const panel = screen.getByTestId('enrollment-requests');
    expect(panel.textContent).not.toContain('1111-2222-3333');
    const help = within(panel).getByTestId('approve-button-help');
    expect(Array.from(help.querySelectorAll('p'), (line) => line.textContent?.split(':')[0])).toEqual([
      'Cancel',
      'Codes differ',
      'Yes, approve',
    ]);
  });
});
