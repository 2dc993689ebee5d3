// A new recovery phrase goes in force only once three of its words were typed back: until then
// (cancelled, or the service refusing the last step) the old phrase stays. The backend is mocked;
// what is checked is what the user sees and what reaches it.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import { signedIn } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

const words = Array.from({ length: 24 }, (_, index) => `word${index}`);

function backend(refuseFirstConfirm: boolean) {
  let refused = false;
  const ipc = signedIn((cmd) => {
    switch (cmd) {
      case 'regenerate_recovery_phrase':
        return { words };
      case 'confirm_recovery_phrase':
        if (refuseFirstConfirm && !refused) {
          refused = true;
          throw { code: 'service_unreachable', message: 'The Enigm service cannot be reached.' };
        }
        return undefined;
      default:
        return undefined;
    }
  });
  return { sent: ipc.sent };
}

async function showNewPhrase() {
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  await fireEvent.click(within(nav).getByRole('button', { name: 'Recovery' }));
  await fireEvent.click(screen.getByRole('button', { name: 'Regenerate recovery phrase' }));
  expect(screen.getByText(/Your current phrase keeps working until/)).toBeTruthy();
  await fireEvent.click(screen.getByRole('button', { name: 'Make a new phrase' }));
  await screen.findByRole('list', { name: 'Recovery phrase' });
}

async function typeThree() {
  await fireEvent.click(screen.getByRole('button', { name: 'I wrote them down' }));
  for (const input of screen.getAllByLabelText(/^Word \d+$/) as HTMLInputElement[]) {
    await fireEvent.input(input, { target: { value: words[Number(input.id.replace('word-', ''))] } });
  }
  await fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
}

describe('a new recovery phrase is checked before the old one is retired', () => {
  it('changes nothing when cancelled after the new phrase was shown', async () => {
    const ipc = backend(false);
    render(App);
    await showNewPhrase();
    expect(screen.getByRole('note').textContent).toContain('Your old phrase keeps working until');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel and keep the old phrase' }));
    expect(screen.queryByRole('list', { name: 'Recovery phrase' })).toBeNull();
    expect(screen.queryByTestId('phrase-replaced')).toBeNull();
    expect(screen.getByTestId('phrase-kept').textContent).toContain('your old recovery phrase still works');
    expect(ipc.sent('confirm_recovery_phrase')).toHaveLength(0);
  });

  it('puts the phrase in force with its words once three match, and says so when that fails', async () => {
    const ipc = backend(true);
    render(App);
    await showNewPhrase();
    await typeThree();
    const refused = await screen.findByRole('alert');
    expect(refused.textContent).toContain('cannot be reached');
    expect(refused.textContent).toContain('Your old phrase still works');
    await fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect((await screen.findByTestId('phrase-replaced')).textContent).toContain('old one no longer works');
    expect(ipc.sent('confirm_recovery_phrase')).toEqual([{ words }, { words }]);
  });
});
