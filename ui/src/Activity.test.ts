// "Download activity" in Settings: one click asks the backend to save the account's signed
// activity record and the window says where it went, or why it could not. The backend is mocked.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { clearMocks } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import { signedIn } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

/** A backend whose `download_activity` answers with `answer` (thrown when it is an error). */
function backend(answer: () => unknown) {
  const ipc = signedIn((cmd) => (cmd === 'download_activity' ? answer() : undefined), { events: true });
  return { sent: (cmd: string) => ipc.sent(cmd).length };
}

async function openSettings() {
  render(App);
  await screen.findAllByTestId('device');
  await fireEvent.click(screen.getByRole('button', { name: /Settings/ }));
}

describe('download activity', () => {
  it('saves the signed record to Downloads and says where', async () => {
    const path = '/home/rita/Downloads/enigm-activity-2026-12-07.json';
    const ipc = backend(() => ({ path, records: 12 }));
    await openSettings();
    expect(screen.queryByTestId('activity-saved')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Download activity' }));
    const saved = await screen.findByTestId('activity-saved');
    expect(saved.textContent?.replace(/\s+/g, ' ').trim()).toBe(`Saved 12 records to ${path}`);
    expect(ipc.sent('download_activity')).toBe(1);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('shows why it could not save, and a second try can succeed', async () => {
    let fail = true;
    const ipc = backend(() => {
      if (fail) {
        throw { code: 'save_failed', message: 'Enigm could not save the file to your Downloads folder.' };
      }
      return { path: '/home/rita/Downloads/enigm-activity-2026-12-07.json', records: 1 };
    });
    await openSettings();
    await fireEvent.click(screen.getByRole('button', { name: 'Download activity' }));
    expect((await screen.findByRole('alert')).textContent).toContain('could not save the file');
    expect(screen.queryByTestId('activity-saved')).toBeNull();
    fail = false;
    await fireEvent.click(screen.getByRole('button', { name: 'Download activity' }));
    expect((await screen.findByTestId('activity-saved')).textContent).toContain('Saved 1 record to');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(ipc.sent('download_activity')).toBe(2);
  });
});
