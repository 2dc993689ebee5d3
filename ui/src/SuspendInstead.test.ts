// Suspending explained where a person decides: removing a device offers to suspend it instead,
// saying what that does (it keeps its keys, can do nothing until resumed, nothing is erased).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import { signedIn, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('suspend instead of removing', () => {
  it('says what suspending does and suspends instead of removing', async () => {
    const ipc = signedIn((cmd) => (cmd === 'change_device' ? twoDevices.devices[1] : undefined));
    render(App);
    const rows = await screen.findAllByTestId('device');
    const suspend = within(rows[1] as HTMLElement).getByRole('button', { name: 'Suspend' });
    expect(suspend.getAttribute('title')).toContain('until you resume it');
    await fireEvent.click(within(rows[1] as HTMLElement).getByRole('button', { name: 'Remove…' }));
    const hint = screen.getByTestId('suspend-instead').textContent?.replace(/\s+/g, ' ');
    expect(hint).toContain('keeps its keys');
    expect(hint).toContain('Nothing is erased');
    await fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Suspend instead' }));
    await vi.waitFor(() => expect(ipc.sent('change_device')).toEqual([{ deviceId: 'bbbb1111', action: 'suspend', reason: null }]));
  });
});
