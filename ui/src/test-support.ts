// Fixtures for the component tests: what the backend answers, in the generated types.
import { fireEvent, screen, within } from '@testing-library/svelte';
import { emit } from '@tauri-apps/api/event';
import { mockIPC } from '@tauri-apps/api/mocks';
import type {
  AppStatus,
  DeviceList,
  DeviceView,
  EnrollmentProgress,
  EnrollmentRequest,
  LockStatus,
  SessionState,
} from './lib/bindings';

export const unlocked: LockStatus = {
  locked: false,
  pin_set: false,
  needs_username: false,
  retry_in: 0,
  auto_lock_minutes: 15,
};

export function status(hasAccount: boolean, session: SessionState, lock: LockStatus = unlocked): AppStatus {
  return {
    app_version: '0.1.0',
    server: 'http://127.0.0.1:4000',
    store: { encrypted: true, cipher_version: '4.6.1 community', keychain_backend: 'Secret Service' },
    has_account: hasAccount,
    session,
    lock,
    username: hasAccount ? 'dana' : null,
  };
}

export const active: SessionState = { state: 'active', expires_at: 1_900_000_000 };

/** A device as the engine lists it; what it offers follows its state, as the engine decides. */
export function device(fields: Pick<DeviceView, 'device_id' | 'fingerprint' | 'label' | 'state' | 'this_device'> & Partial<DeviceView>): DeviceView {
  const removed = ['revoked', 'replaced', 'retired'].includes(fields.state);
  const moves: Record<string, DeviceView['actions']> = {
    active: ['suspend', 'revoke'],
    suspended: ['resume', 'revoke'],
    pending: ['revoke'],
    review: ['revoke'],
    revoked: ['retire'],
    replaced: ['retire'],
  };
  return {
    origin: 'enrollment',
    approved_by: null,
    added_at: 0,
    changed_at: 0,
    replaces: null,
    replaced_by: null,
    last_seen_day: null,
    last_seen: null,
    actions: [...(removed ? [] : (['rename'] as const)), ...(fields.this_device ? [] : (moves[fields.state] ?? []))],
    ...fields,
  };
}

export const twoDevices: DeviceList = {
  devices: [
    device({
      device_id: 'aaaa0000',
      fingerprint: 'AAAA-BBBB-CCCC',
      label: null,
      state: 'active',
      this_device: true,
      origin: 'genesis',
      last_seen: 'today',
    }),
    device({
      device_id: 'bbbb1111',
      fingerprint: 'DDDD-EEEE-FFFF',
      label: 'Work laptop',
      state: 'active',
      this_device: false,
      changed_at: 1,
      last_seen: '3 days ago',
    }),
  ],
  head: { seq: 1, hash: '00'.repeat(32) },
  verified: true,
  synced: true,
};

/** A request from a new Linux computer, made half a minute ago and not yet answered. */
export function enrollmentRequest(fields: Partial<EnrollmentRequest> = {}): EnrollmentRequest {
  return {
    id: 'req-1',
    platform: 'linux',
    fingerprint: '1111-2222-3333',
    created_at: Math.floor(Date.now() / 1000) - 30,
    state: 'requested',
    replaces: null,
    replaces_this_device: false,
    ...fields,
  };
}

/** A mocked backend for a signed-in app that lists `list` (two devices unless told): `answer`
 * takes every other command (undefined where it has nothing to say). Every call is recorded;
 * `sent` gives the arguments of each call of one command. `events` mocks the event bus too. */
export function signedIn(
  answer: (cmd: string, args: unknown) => unknown = () => undefined,
  { list = twoDevices, events = false }: { list?: DeviceList; events?: boolean } = {},
) {
  const calls: { cmd: string; args: unknown }[] = [];
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === 'app_status') return status(true, active);
      if (cmd === 'list_devices') return list;
      return answer(cmd, args);
    },
    { shouldMockEvents: events },
  );
  return { calls, sent: (cmd: string) => calls.filter((call) => call.cmd === cmd).map((call) => call.args) };
}

/** On the approving device: opens the request's code screen, and the engine shows `code`. */
export async function compareCode(code: string) {
  const card = await screen.findByTestId('enrollment-request');
  await fireEvent.click(within(card).getByRole('button', { name: 'Compare code' }));
  const shown: EnrollmentProgress = { event: 'code', code, emoji: [{ symbol: '🐶', name: 'Dog' }], replaces: null };
  await emit('enrollment-progress', shown);
}

/** From the first-run screen: Add this computer, signing in as `username` with `password`, as
 * the replacement of one of the account's devices; then Continue. */
export async function askToReplace(username: string, password: string) {
  await fireEvent.click(await screen.findByRole('button', { name: /Add this computer/ }));
  await fireEvent.input(screen.getByLabelText('Username'), { target: { value: username } });
  await fireEvent.input(screen.getByLabelText('Password'), { target: { value: password } });
  await fireEvent.click(screen.getByLabelText('This computer replaces one of my devices'));
  await fireEvent.click(screen.getByRole('button', { name: 'Continue' }));
}
