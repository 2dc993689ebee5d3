// "Where you're signed in" on the Session page: each session of the account with "Sign out"
// for the other ones and "Sign out everywhere else", which asks first. The backend is mocked;
// it ends sessions as the service would and lists what is left.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import type { IpcError, SessionStatusView, SessionView } from './lib/bindings';
import { active, status, twoDevices } from './test-support';

afterEach(() => {
  cleanup();
  clearMocks();
});

const statusView: SessionStatusView = {
  account_state: 'active',
  device_state: 'active',
  session_kind: 'full',
  expires_at: 1_900_000_000,
  recovery_epoch: 0,
  decisions: [],
};

function session(fields: Pick<SessionView, 'id' | 'label' | 'this_device' | 'current'>): SessionView {
  return { device_id: 'aaaa0000', fingerprint: 'AAAA-BBBB-CCCC', started_at: 1_800_000_000, last_used: 'today', ...fields };
}

/** A backend holding `sessions`; ending one drops it, as the service does, unless `refuse` says why not. */
function backend(sessions: SessionView[], refuse?: IpcError) {
  const ended: string[] = [];
  let live = [...sessions];
  mockIPC((cmd, args) => {
    switch (cmd) {
      case 'app_status':
        return status(true, active);
      case 'list_devices':
        return twoDevices;
      case 'session_status':
        return statusView;
      case 'signed_in_sessions':
        return live;
      case 'end_session': {
        if (refuse) throw refuse;
        const id = (args as { sessionId: string }).sessionId;
        ended.push(id);
        live = live.filter((s) => s.id !== id);
        return null;
      }
      case 'end_other_sessions': {
        const others = live.filter((s) => !s.current);
        ended.push(...others.map((s) => s.id));
        live = live.filter((s) => s.current);
        return others.length;
      }
      default:
        return undefined;
    }
  });
  return { ended };
}

async function openSession() {
  render(App);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  await fireEvent.click(within(nav).getByRole('button', { name: 'Session' }));
  return screen.findByRole('list', { name: 'Signed-in sessions' });
}

const here = session({ id: 'ses_aaaaaaaaaaaaaaaa', label: null, this_device: true, current: true });
const phone = session({ id: 'ses_bbbbbbbbbbbbbbbb', label: 'Rita’s phone', this_device: false, current: false });
const tablet = session({ id: 'ses_cccccccccccccccc', label: null, this_device: false, current: false });

describe('where you are signed in', () => {
  it('lists every session and signs out another one, but never offers this one', async () => {
    const ipc = backend([here, phone, tablet]);
    const list = await openSession();
    const rows = within(list).getAllByTestId('session');
    expect(rows).toHaveLength(3);
    expect(rows[0]?.textContent).toContain('This computer');
    expect(rows[0]?.textContent).toContain("You're using this one");
    expect(within(rows[0]!).queryByRole('button')).toBeNull();
    expect(rows[1]?.textContent).toContain('Rita’s phone');
    expect(rows[1]?.textContent).toContain('last used today');
    expect(rows[2]?.textContent).toContain('Device AAAA-BBBB');

    await fireEvent.click(within(rows[1]!).getByRole('button', { name: 'Sign out' }));
    const notice = await screen.findByTestId('signed-in-notice');
    expect(notice.textContent).toContain('Rita’s phone is signed out');
    expect(ipc.ended).toEqual([phone.id]);
    expect(await screen.findAllByTestId('session')).toHaveLength(2);
  });

  it('asks before signing out everywhere else, and keeps this session', async () => {
    const ipc = backend([here, phone, tablet]);
    await openSession();
    await fireEvent.click(screen.getByRole('button', { name: 'Sign out everywhere else…' }));
    expect(screen.getByText(/Sign out all 2 other sessions\?/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Keep them' }));
    expect(ipc.ended).toEqual([]);

    await fireEvent.click(screen.getByRole('button', { name: 'Sign out everywhere else…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Sign out everywhere else' }));
    expect((await screen.findByTestId('signed-in-notice')).textContent).toContain('Signed out 2 other sessions.');
    expect(ipc.ended).toEqual([phone.id, tablet.id]);
    const rows = await screen.findAllByTestId('session');
    expect(rows).toHaveLength(1);
    expect(screen.getByText('Only this computer is signed in.')).toBeTruthy();
  });

  it('says why a sign-out failed and changes nothing', async () => {
    const ipc = backend([here, phone], {
      code: 'no_such_session',
      message: 'The account has no session with this name; list them again.',
    });
    const list = await openSession();
    await fireEvent.click(within(list).getByRole('button', { name: 'Sign out' }));
    expect((await screen.findByRole('alert')).textContent).toContain('no session with this name');
    expect(screen.queryByTestId('signed-in-notice')).toBeNull();
    expect(screen.getAllByTestId('session')).toHaveLength(2);
    expect(ipc.ended).toEqual([]);
  });
});
