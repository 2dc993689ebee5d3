// Fixtures for the component tests: what the backend answers, in the generated types.
import type { AppStatus, DeviceList, DeviceView, LockStatus, SessionState } from './lib/bindings';

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
