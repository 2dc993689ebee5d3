// The paused screen: a suspended computer shows who paused it and what still holds, and goes
// back to normal by itself when it is resumed (live, as the engine reports it). The backend is
// mocked; what is checked is what the user sees.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type { RemovedBy } from './lib/bindings';
import { active, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

function backend(by: RemovedBy | null) {
  mockIPC(
    (cmd) => {
      if (cmd === 'app_status') return status(true, active);
      if (cmd === 'list_devices') return twoDevices;
      if (cmd === 'paused_by') return by;
      return undefined;
    },
    { shouldMockEvents: true },
  );
}

const text = (id: string) => screen.getByTestId(id).textContent?.replace(/\s+/g, ' ').trim();

describe('the paused screen', () => {
  it('names who paused this computer, says what still holds, and lifts when resumed', async () => {
    backend({ kind: 'device', label: 'Work laptop', fingerprint: 'DDDD-EEEE-FFFF' });
    render(App);
    await screen.findAllByTestId('device');
    await emit('session-update', { event: 'state', session: { state: 'restricted', reason: 'suspended' } });
    expect(await screen.findByRole('heading', { name: 'This computer is paused' })).toBeTruthy();
    expect(screen.queryByRole('navigation', { name: 'Main' })).toBeNull();
    await screen.findByText(/Work laptop/);
    expect(text('paused-by')).toBe('Paused by Work laptop (DDDD-EEEE-FFFF).');
    expect(text('paused')).toContain('Nothing was erased');
    expect(text('paused')).toContain('goes away by itself');

    await emit('session-update', { event: 'state', session: { state: 'active', expires_at: 1_900_000_000 } });
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'This computer is paused' })).toBeNull();
    expect((await screen.findByTestId('notice')).textContent).toContain('This computer was resumed');
  });

  it('says another device paused it when it could not verify which', async () => {
    backend(null);
    render(App);
    await screen.findAllByTestId('device');
    await emit('session-update', { event: 'state', session: { state: 'restricted', reason: 'suspended' } });
    await screen.findByRole('heading', { name: 'This computer is paused' });
    expect(text('paused-by')).toBe('Another of your devices paused it.');
  });
});
