// "Add a device" on Devices, where people look for it: it says what to do on the new computer.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import { signedIn } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('adding a device', () => {
  it('opens the steps to follow on the new computer from the Devices page, and closes them', async () => {
    const { calls } = signedIn();
    render(App);
    await screen.findAllByTestId('device');
    const open = screen.getByRole('button', { name: 'Add a device' });
    expect(open.getAttribute('aria-expanded')).toBe('false');
    await fireEvent.click(open);
    const help = screen.getByTestId('add-device-help');
    expect(open.getAttribute('aria-expanded')).toBe('true');
    expect(help.textContent).toContain('On the new computer, open Enigm and choose Add this computer.');
    expect(help.textContent).toContain('compare the code on both screens');
    await fireEvent.click(within(help).getByRole('button', { name: 'Close' }));
    expect(screen.queryByTestId('add-device-help')).toBeNull();
    // Only explained here: nothing was asked of the backend.
    const asked = ['app_status', 'list_devices', 'enrollment_requests', 'device_history'];
    const commands = calls.map((call) => call.cmd);
    expect(commands.filter((cmd) => !asked.includes(cmd) && !cmd.startsWith('plugin:event|'))).toEqual([]);
  });
});
