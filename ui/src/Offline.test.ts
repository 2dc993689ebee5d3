// Offline: the device list says when it was last verified ("at 14:05"), turns from green to a
// warning while the service cannot be reached, and "Retry now" asks again at once; an answer
// clears the offline banner.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import { active, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('offline', () => {
  it('says when the list was verified, and retries now on request', async () => {
    let asked = 0;
    mockIPC(
      (cmd) => {
        if (cmd === 'app_status') return status(true, active);
        if (cmd === 'list_devices') {
          asked++;
          return twoDevices;
        }
        return undefined;
      },
      { shouldMockEvents: true },
    );
    render(App);
    await screen.findAllByTestId('device');
    const verified = () => screen.getByTestId('verified');
    expect(screen.getByTestId('verified-at').textContent).toMatch(/^at \d{1,2}:\d{2}/);
    expect(verified().classList.contains('stale')).toBe(false);
    expect(screen.queryByRole('button', { name: 'Retry now' })).toBeNull();

    await emit('session-update', { event: 'offline', retry_in_ms: 30_000 });
    await screen.findByTestId('offline');
    expect(verified().classList.contains('stale')).toBe(true);
    expect(verified().textContent).toContain('last known');
    expect(screen.getByTestId('verified-at').textContent).toMatch(/^at \d{1,2}:\d{2}/);

    await fireEvent.click(screen.getByRole('button', { name: 'Retry now' }));
    await vi.waitFor(() => expect(screen.queryByTestId('offline')).toBeNull());
    expect(asked).toBe(2);
    expect(verified().classList.contains('stale')).toBe(false);
  });
});
