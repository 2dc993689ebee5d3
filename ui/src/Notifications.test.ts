// Desktop notifications for every change to the account's devices: each piece of news asks
// the backend for one (its notification plugin is behind `notify_device_change`, mocked here),
// besides the notice in the window; a change this app made itself asks for none; with the
// window in front none is needed; and after one, the window's next focus shows Devices.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type { DeviceNews } from './lib/bindings';
import { active, device, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
  vi.restoreAllMocks();
});

function backend() {
  const asked: { title: string; body: string }[] = [];
  mockIPC(
    (cmd, args) => {
      if (cmd === 'app_status') return status(true, active);
      if (cmd === 'list_devices') return twoDevices;
      if (cmd === 'change_device') return twoDevices.devices[1];
      if (cmd === 'notify_device_change') asked.push(args as { title: string; body: string });
      return undefined;
    },
    { shouldMockEvents: true },
  );
  return asked;
}

const laptop = device({ device_id: 'bbbb1111', fingerprint: 'DDDD-EEEE-FFFF', label: 'Work laptop', state: 'active', this_device: false });

async function news(kind: DeviceNews, deviceId = 'cccc2222') {
  await emit('session-update', {
    event: 'device_news',
    news: kind,
    device: { ...laptop, device_id: deviceId, label: 'Phone' },
  });
}

describe('desktop notifications of device changes', () => {
  it('asks for one per change and for the recovery phrase being used, besides the notice', async () => {
    vi.spyOn(document, 'hasFocus').mockReturnValue(false);
    const asked = backend();
    render(App);
    await screen.findAllByTestId('device');
    for (const kind of ['joined', 'removed', 'paused', 'resumed', 'replaced'] as const) await news(kind);
    await emit('session-update', { event: 'recovery_started' });
    await vi.waitFor(() => expect(asked).toHaveLength(6));
    expect(asked.map((one) => one.title)).toEqual([
      'A device joined your account',
      'A device was removed',
      'A device was paused',
      'A device was resumed',
      'A device was replaced',
      'Your recovery phrase is being used',
    ]);
    expect(asked[0]?.body).toBe('Phone joined your account.');
    expect(asked[2]?.body).toContain('Phone was paused');
    expect(screen.getAllByTestId('notice')).toHaveLength(6);

    // Back at the window (the user clicked the notification): the Devices screen.
    await fireEvent.click(screen.getByRole('button', { name: /Settings/ }));
    expect(screen.queryByRole('heading', { name: 'Devices' })).toBeNull();
    await fireEvent.focus(window);
    expect(await screen.findByRole('heading', { name: 'Devices' })).toBeTruthy();
  });

  it('asks for none for a change this app made, nor while the window is in front', async () => {
    const focused = vi.spyOn(document, 'hasFocus').mockReturnValue(false);
    const asked = backend();
    render(App);
    const rows = await screen.findAllByTestId('device');
    await fireEvent.click(within(rows[1] as HTMLElement).getByRole('button', { name: 'Suspend' }));
    await news('paused', 'bbbb1111');
    expect((await screen.findByTestId('notice')).textContent).toContain('was paused');
    expect(asked).toHaveLength(0);
    // The same device paused again later, from elsewhere: that one is news.
    await news('paused', 'bbbb1111');
    await vi.waitFor(() => expect(asked).toHaveLength(1));

    focused.mockReturnValue(true);
    await news('removed');
    await vi.waitFor(() => expect(screen.getAllByTestId('notice')).toHaveLength(3));
    expect(asked).toHaveLength(1);
  });
});
