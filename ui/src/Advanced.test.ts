// The service address is a detail most people never change: when the app knows it, Create
// account keeps it under "Advanced", filled in and closed; when it does not, it is asked first.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import { status } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

function firstRun(server: string | null) {
  mockIPC((cmd) => {
    if (cmd === 'app_status') return { ...status(false, { state: 'signed_out' }), server };
    return undefined;
  });
}

describe('the service address', () => {
  it('sits under Advanced, filled in and closed, when the app knows it', async () => {
    firstRun('http://127.0.0.1:4000');
    render(App);
    await fireEvent.click(await screen.findByRole('button', { name: /Create account/ }));
    const advanced = screen.getByTestId('advanced') as HTMLDetailsElement;
    expect(advanced.open).toBe(false);
    expect(advanced.querySelector('summary')?.textContent).toBe('Advanced');
    expect((screen.getByLabelText('Service address') as HTMLInputElement).value).toBe('http://127.0.0.1:4000');
    // The first field is the username.
    const fields = Array.from(document.querySelectorAll('form input')) as HTMLInputElement[];
    expect(fields[0]?.id).toBe('username');
  });

  it('is asked for first when the app does not know it', async () => {
    firstRun(null);
    render(App);
    await fireEvent.click(await screen.findByRole('button', { name: /Create account/ }));
    expect(screen.queryByTestId('advanced')).toBeNull();
    const fields = Array.from(document.querySelectorAll('form input')) as HTMLInputElement[];
    expect(fields[0]?.id).toBe('server');
  });
});
