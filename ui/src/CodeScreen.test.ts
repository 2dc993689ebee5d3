// The code screen on the approving device: only the code to compare (no fingerprint above it to
// compare by mistake), and one line for what each answer does.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/svelte';
import { clearMocks } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import { compareCode, enrollmentRequest, signedIn } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('the code screen', () => {
  it('shows the code without the fingerprint and says what each answer does', async () => {
    signedIn(
      (cmd) => {
        if (cmd === 'enrollment_requests') return [enrollmentRequest()];
        if (cmd === 'approve_enrollment') return new Promise(() => undefined);
        return undefined;
      },
      { events: true },
    );
    render(App);
    await screen.findByTestId('enrollment-request');
    expect(screen.getByTestId('enrollment-requests').textContent).toContain('Reject refuses the request');
    await compareCode('482 913');
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
