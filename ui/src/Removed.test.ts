// The removed screen's way out: "Set up this computer again" erases the removed profile (keys
// already gone) and returns to the first-run choices; a refusal is said and changes nothing.
// The backend is mocked; what is checked is what the user sees and what reaches it.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import type { SessionState } from './lib/bindings';
import { status } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

const removed: SessionState = {
  state: 'revoked',
  at: 1_800_000_000,
  signed_at: null,
  by: { kind: 'device', label: 'Work laptop', fingerprint: 'ABCD EFGH IJKL MNOP' },
  reason: 'lost',
  replaced_by: null,
};

describe('the removed screen', () => {
  it('sets this computer up again, back to adding it, creating or restoring an account', async () => {
    const calls: string[] = [];
    let erased = false;
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === 'app_status') return erased ? status(false, { state: 'signed_out' }) : status(true, removed);
      if (cmd === 'set_up_again') erased = true;
      return undefined;
    });
    render(App);
    await screen.findByRole('heading', { name: 'This computer was removed from your account' });
    expect(screen.getByText(/set this computer up from the start/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Set up this computer again' }));
    expect(await screen.findByRole('heading', { name: 'Welcome to Enigm' })).toBeTruthy();
    for (const choice of [/Add this computer/, /Create account/, /Restore/]) {
      expect(screen.getByRole('button', { name: choice })).toBeTruthy();
    }
    expect(calls.filter((cmd) => cmd === 'set_up_again')).toHaveLength(1);
  });

  it('says why when the profile cannot be erased, and stays', async () => {
    mockIPC((cmd) => {
      if (cmd === 'app_status') return status(true, removed);
      if (cmd === 'set_up_again') throw { code: 'keychain_locked', message: 'The keychain is locked; unlock it and try again.' };
      return undefined;
    });
    render(App);
    await fireEvent.click(await screen.findByRole('button', { name: 'Set up this computer again' }));
    expect((await screen.findByRole('alert')).textContent).toContain('The keychain is locked');
    expect(screen.getByRole('heading', { name: 'This computer was removed from your account' })).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Set up this computer again' }) as HTMLButtonElement).disabled).toBe(false);
  });
});
