// Joining names this computer: the form suggests its own name and platform, the user may change
// it, and once it has joined the name is given to it (encrypted like any label) for every
// device of the account to show.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import { active, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

function backend() {
  const renames: unknown[] = [];
  let joined = false;
  mockIPC(
    (cmd, args) => {
      if (cmd === 'app_status') return joined ? status(true, active) : status(false, { state: 'signed_out' });
      if (cmd === 'suggested_device_name') return 'dana-thinkpad, Linux';
      if (cmd === 'enroll_this_computer') {
        joined = true;
        return 'active';
      }
      if (cmd === 'list_devices') return twoDevices;
      if (cmd === 'rename_device') renames.push(args);
      return undefined;
    },
    { shouldMockEvents: true },
  );
  return renames;
}

async function join(name: string | null) {
  render(App);
  await fireEvent.click(await screen.findByRole('button', { name: /Add this computer/ }));
  const field = (await screen.findByLabelText('Name for this computer')) as HTMLInputElement;
  await vi.waitFor(() => expect(field.value).toBe('dana-thinkpad, Linux'));
  if (name !== null) await fireEvent.input(field, { target: { value: name } });
  await fireEvent.input(screen.getByLabelText('Username'), { target: { value: 'dana' } });
  await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'secret' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Add this computer' }));
  await screen.findByRole('heading', { name: 'Devices' });
}

describe('naming this computer while it joins', () => {
  it('suggests its own name and platform and gives it once joined', async () => {
    const renames = backend();
    await join(null);
    await vi.waitFor(() => expect(renames).toEqual([{ deviceId: 'aaaa0000', label: 'dana-thinkpad, Linux' }]));
  });

  it('gives the name the user typed instead', async () => {
    const renames = backend();
    await join('Kitchen laptop');
    await vi.waitFor(() => expect(renames).toEqual([{ deviceId: 'aaaa0000', label: 'Kitchen laptop' }]));
  });
});
