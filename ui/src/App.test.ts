import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('start screen', () => {
  it('shows the store and keychain the backend reports', async () => {
    mockIPC((command) => {
      expect(command).toBe('app_status');
      return {
        appVersion: '0.1.0',
        store: { encrypted: true, cipherVersion: '4.6.1 community', keychainBackend: 'Secret Service' },
      };
    });
    render(App);
    expect(await screen.findByTestId('status-line')).toHaveProperty(
      'textContent',
      'store: encrypted / keychain: Secret Service',
    );
    expect(screen.getByText('Version 0.1.0')).toBeTruthy();
  });

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
