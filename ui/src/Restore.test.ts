import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import type { DeviceList, PhraseCheck, WordCheck } from './lib/bindings';
import { active, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
  vi.restoreAllMocks();
});

// A stand-in for the backend's checks: a few list words, and a phrase whose checksum holds only
// when it ends in "art" (as BIP39's all-"abandon" vector does).
const list = ['abandon', 'ability', 'able', 'about', 'art', 'artefact', 'artist'];
const good = [...Array.from({ length: 23 }, () => 'abandon'), 'art'];

function check(words: string[]): PhraseCheck {
  const checks: WordCheck[] = words.map((typed) => {
    const word = typed.trim().toLowerCase();
    if (word === '') return { state: 'empty' };
    if (list.includes(word)) return { state: 'valid', word };
    const starting = list.filter((candidate) => candidate.startsWith(word));
    if (word.length >= 4 && starting.length === 1) return { state: 'valid', word: starting[0] as string };
    return starting.length > 0 ? { state: 'prefix' } : { state: 'unknown' };
  });
  const complete = checks.length === 24 && checks.every((c) => c.state === 'valid');
  const status = !complete ? 'incomplete' : words[23]?.trim() === 'art' ? 'valid' : 'checksum_failed';
  return { words: checks, status };
}

const oldDevices: DeviceList = {
  ...twoDevices,
  devices: twoDevices.devices.map((device) => ({ ...device, this_device: false })),
};

type Call = { cmd: string; args: Record<string, unknown> };

/** The backend of a computer without an account, recording every call. */
function backend(overrides: Partial<Record<string, (args: Record<string, unknown>) => unknown>> = {}) {
  const calls: Call[] = [];
  let hasAccount = false;
  mockIPC((cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    const override = overrides[cmd];
    if (override) return override(args);
    switch (cmd) {
      case 'app_status':
        return status(hasAccount, hasAccount ? active : { state: 'signed_out' });
      case 'recovery_words':
        return { count: 24, words: list };
      case 'check_recovery_phrase':
        return check(args.words as string[]);
      case 'begin_recovery':
        return oldDevices;
      case 'finish_recovery':
        hasAccount = true;
        return twoDevices;
      case 'list_devices':
        return twoDevices;
      default:
        return undefined;
    }
  });
  return calls;
}

function word(position: number): HTMLInputElement {
  return screen.getByLabelText(`Word ${position}`) as HTMLInputElement;
}

async function openRestore() {
  render(App);
  await fireEvent.click(await screen.findByRole('button', { name: /Restore/ }));
  await screen.findByLabelText('Word 24');
}

async function pastePhrase(text: string) {
  await fireEvent.paste(word(1), { clipboardData: { getData: () => text } });
  await vi.waitFor(() => expect(word(24).value).not.toBe(''));
}

async function fillTheRest() {
  await fireEvent.input(screen.getByLabelText('Username'), { target: { value: 'alice' } });
  await fireEvent.input(screen.getByLabelText('New password'), { target: { value: 'correct horse battery staple' } });
}

/** Opens the restore, pastes the good phrase, fills the rest and continues. */
async function submitGoodPhrase() {
  await openRestore();
  await pastePhrase(good.join(' '));
  await fillTheRest();
  await vi.waitFor(() => expect(continueButton().disabled).toBe(false));
  await fireEvent.click(continueButton());
}

function continueButton(): HTMLButtonElement {
  return screen.getByRole('button', { name: 'Continue' }) as HTMLButtonElement;
}

describe('restoring with the recovery phrase', () => {
  it('checks each word and the checksum, then revokes the devices marked lost', async () => {
    const calls = backend();
    await openRestore();
    expect(screen.getAllByRole('textbox', { name: /^Word \d+$/ })).toHaveLength(24);

    // A word that is in no list word is flagged inline at once; one being typed is not.
    await fireEvent.focus(word(1));
    await fireEvent.input(word(1), { target: { value: 'xyz' } });
    expect(await screen.findByText('Word 1 is not in the word list.')).toBeTruthy();
    expect(word(1).getAttribute('aria-invalid')).toBe('true');
    await fireEvent.input(word(1), { target: { value: 'ab' } });
    await vi.waitFor(() => expect(word(1).getAttribute('aria-invalid')).toBe('false'));
    const suggestions = screen.getByRole('group', { name: 'Words that start like word 1' });
    expect(within(suggestions).getAllByRole('button').map((b) => b.textContent?.trim())).toEqual([
      'abandon',
      'ability',
      'able',
      'about',
    ]);

    // An accepted prefix shows as its list word once the field is left.
    await fireEvent.focus(word(2));
    await fireEvent.input(word(2), { target: { value: 'aban' } });
    await fireEvent.blur(word(2));
    await vi.waitFor(() => expect(word(2).value).toBe('abandon'));

    // A pasted phrase fills every field; all in the list but the checksum fails.
    await pastePhrase(Array.from({ length: 24 }, () => 'ABANDON').join('  \n'));
    expect(word(1).value).toBe('abandon');
    expect(word(24).value).toBe('abandon');
    expect((await screen.findByTestId('phrase-status')).textContent).toContain('do not check out');
    await fillTheRest();
    expect(continueButton().disabled).toBe(true);

    // The last word completed from the list makes the phrase check out.
    await fireEvent.focus(word(24));
    await fireEvent.input(word(24), { target: { value: 'ar' } });
    await fireEvent.click(await screen.findByRole('button', { name: 'art' }));
    expect(word(24).value).toBe('art');
    expect((await screen.findByTestId('phrase-status')).textContent).toContain('the phrase checks out');
    expect(continueButton().disabled).toBe(false);
    await fireEvent.click(continueButton());

    const rows = await screen.findAllByTestId('restore-device');
    expect(rows).toHaveLength(2);
    expect(calls.find((call) => call.cmd === 'begin_recovery')?.args).toEqual({
      server: 'http://127.0.0.1:4000',
      username: 'alice',
      words: good,
    });
    expect(calls.some((call) => call.cmd === 'finish_recovery')).toBe(false);
    await fireEvent.click(within(rows[1] as HTMLElement).getByRole('checkbox', { name: 'Lost: remove it' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Restore, remove 1 lost' }));

    expect(await screen.findByText('Device list verified')).toBeTruthy();
    expect(calls.find((call) => call.cmd === 'finish_recovery')?.args).toEqual({
      password: 'correct horse battery staple',
      lost: ['bbbb1111'],
    });
  });

  it('says plainly when the service refuses the username and phrase, keeping what was typed', async () => {
    const calls = backend({
      begin_recovery: () => {
        throw {
          code: 'recovery_refused',
          message: 'The service did not accept this recovery phrase for this username. Check the username.',
        };
      },
    });
    await submitGoodPhrase();
    expect((await screen.findByRole('alert')).textContent).toContain('did not accept this recovery phrase');
    expect(word(24).value).toBe('art');
    expect((screen.getByLabelText('Username') as HTMLInputElement).value).toBe('alice');
    expect(calls.some((call) => call.cmd === 'finish_recovery')).toBe(false);
  });

  it('stops waiting for the service on cancel and drops the begun recovery', async () => {
    const calls = backend({ begin_recovery: () => new Promise(() => undefined) });
    await submitGoodPhrase();
    expect((await screen.findByRole('status')).textContent).toContain('Proving the phrase');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(await screen.findByLabelText('Word 1')).toBeTruthy();
    expect(calls.filter((call) => call.cmd === 'cancel_recovery')).toHaveLength(1);
    expect(calls.some((call) => call.cmd === 'finish_recovery')).toBe(false);
  });
});
