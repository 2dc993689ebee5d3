import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import type { DeviceList, DeviceTimelineView } from './lib/bindings';
import { formatTime } from './lib/format';
import { active, signedIn, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
  vi.restoreAllMocks();
});

const history: DeviceTimelineView = {
  head_seq: 4,
  lanes: [
    {
      device_id: 'aaaa0000',
      fingerprint: 'AAAA-BBBB-CCCC',
      label: null,
      this_device: true,
      segments: [{ from_seq: 0, state: 'active', change: 'genesis', actor: 'device', by: 'aaaa0000', reason: null, signed_at: null }],
    },
    {
      device_id: 'bbbb1111',
      fingerprint: 'DDDD-EEEE-FFFF',
      label: 'Work laptop',
      this_device: false,
      segments: [
        { from_seq: 1, state: 'active', change: 'add_device', actor: 'device', by: 'aaaa0000', reason: null, signed_at: null },
        { from_seq: 2, state: 'suspended', change: 'suspend', actor: 'device', by: 'aaaa0000', reason: null, signed_at: 1_796_000_000 },
        { from_seq: 3, state: 'revoked', change: 'recover', actor: 'recovery_key', by: null, reason: null, signed_at: null },
      ],
    },
  ],
  marks: [{ seq: 4, kind: 'rotate_recovery', actor: 'device', by: 'aaaa0000', signed_at: null }],
};

describe('renaming a device', () => {
  it('sends the new label, shows it, and shows a refused label without losing the text', async () => {
    let devices: DeviceList = twoDevices;
    const renames: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === 'app_status') return status(true, active);
      if (cmd === 'list_devices') return devices;
      if (cmd === 'rename_device') {
        renames.push(args);
        const { label } = args as { label: string };
        if (label.length > 64) throw { code: 'invalid_label', message: 'A label is at most 64 characters long.' };
        devices = {
          ...devices,
          devices: devices.devices.map((d) => (d.device_id === 'aaaa0000' ? { ...d, label } : d)),
        };
        return devices.devices[0];
      }
      return undefined;
    });
    render(App);
    const rows = await screen.findAllByTestId('device');
    await fireEvent.click(within(rows[0] as HTMLElement).getByRole('button', { name: 'Rename…' }));
    const field = screen.getByLabelText('New name for This computer') as HTMLInputElement;
    expect(screen.getByText(/the service cannot/).textContent).toContain('Encrypted on this computer');

    await fireEvent.input(field, { target: { value: 'x'.repeat(65) } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect((await screen.findByRole('alert')).textContent).toContain('at most 64 characters');
    expect((screen.getByLabelText('New name for This computer') as HTMLInputElement).value).toHaveLength(65);

    await fireEvent.input(screen.getByLabelText('New name for This computer'), { target: { value: 'Desk PC' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await vi.waitFor(() => expect(screen.getAllByTestId('device')[0]?.textContent).toContain('Desk PC'));
    expect(screen.getAllByTestId('device')[0]?.textContent).toContain('This computer');
    expect(screen.queryByLabelText(/New name for/)).toBeNull();
    expect(renames.at(-1)).toEqual({ deviceId: 'aaaa0000', label: 'Desk PC' });
  });
});

describe('the device timeline', () => {
  it('draws one lane per device with its states and tells the same history as text', async () => {
    signedIn((cmd) => {
      if (cmd === 'device_history') return history;
      return undefined;
    });
    render(App);
    const picture = await screen.findByRole('img', { name: /Device history/ });
    const lanes = picture.querySelectorAll('.lane');
    expect(lanes).toHaveLength(2);
    const laptop = picture.querySelector('[data-device="bbbb1111"]') as SVGGElement;
    expect([...laptop.querySelectorAll('[data-state]')].map((s) => s.getAttribute('data-state'))).toEqual([
      'active',
      'suspended',
      'revoked',
    ]);
    // Each state has a word in its tooltip, not only a color.
    expect(laptop.querySelector('[data-state="revoked"] title')?.textContent).toContain('Removed from change 3');
    expect(laptop.textContent).toContain('Work laptop');

    const text = screen.getByRole('list', { name: 'Device history' });
    const lines = within(text)
      .getAllByRole('listitem')
      .map((item) => item.textContent);
    expect(lines).toEqual([
      'Change 0: This computer created the account.',
      'Change 1: Work laptop was added, approved by This computer.',
      `Change 2: Work laptop was suspended by This computer. (around ${formatTime(1_796_000_000)})`,
      'Change 3: Work laptop was removed when the account was restored with the recovery phrase.',
      'Change 4: A new recovery phrase was made by This computer.',
    ]);
    expect(picture.getAttribute('aria-describedby')).toBe(text.id);
  });
});
