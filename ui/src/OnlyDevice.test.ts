// Replacing the only active computer: no other device can approve, so both sides say so and
// point to what works, a restore with the recovery phrase on the new computer. The backend is
// mocked; what is checked is what the user sees and what reaches it.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import type { DeviceView, DeviceList, EnrollmentRequest } from './lib/bindings';
import { askToReplace, enrollmentRequest, signedIn, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

const thisOnly: DeviceList = { ...twoDevices, devices: [twoDevices.devices[0]!] };

const replacesMe: EnrollmentRequest = enrollmentRequest({
  replaces: { device_id: 'aaaa0000', fingerprint: 'AAAA-BBBB-CCCC', label: null },
  replaces_this_device: true,
});

function approving(list: DeviceList) {
  signedIn((cmd) => (cmd === 'enrollment_requests' ? [replacesMe] : undefined), { list });
}

describe('replacing the only active computer', () => {
  it('on that computer: says no other device can approve and points to a restore on the new one', async () => {
    approving(thisOnly);
    render(App);
    const card = await screen.findByTestId('enrollment-request');
    const note = within(card).getByTestId('replaces-this-device');
    await within(note).findByText(/no other active device that could/);
    expect(note.textContent).toContain('Restore');
    expect(note.textContent).toContain('recovery phrase');
    expect(note.textContent).not.toContain('approve it from another of your devices');
    expect(within(card).queryByRole('button', { name: 'Compare code' })).toBeNull();
  });

  it('with another active device, still says to approve from it', async () => {
    approving(twoDevices);
    render(App);
    const note = await screen.findByTestId('replaces-this-device');
    await within(note).findByText(/approve it from another of your devices/);
  });

  it('on the new computer: offers the restore instead of a replacement nobody could approve', async () => {
    const calls: string[] = [];
    const only: DeviceView = { ...twoDevices.devices[1]!, this_device: false };
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === 'app_status') return status(false, { state: 'signed_out' });
      if (cmd === 'replaceable_devices') return [only];
      return undefined;
    });
    render(App);
    await askToReplace('alice', 'pw');
    const note = await screen.findByTestId('only-active-device');
    expect(note.textContent).toContain('Work laptop is the only active device of your account');
    expect(screen.queryByRole('button', { name: 'Replace the chosen device' })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Restore with the recovery phrase' }));
    expect(await screen.findByRole('heading', { name: 'Restore your account' })).toBeTruthy();
    expect(calls).toContain('abandon_joining');
    expect(calls).not.toContain('enroll_this_computer');
  });
});
