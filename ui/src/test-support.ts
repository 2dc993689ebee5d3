// Fixtures for the component tests: what the backend answers, in the generated types.
import type { AppStatus, DeviceListView, LockView, SessionView } from './lib/bindings';

export const unlocked: LockView = {
  locked: false,
  pin_set: false,
  needs_username: false,
  retry_in: 0,
  auto_lock_minutes: 15,
};

export function status(hasAccount: boolean, session: SessionView, lock: LockView = unlocked): AppStatus {
  return {
    app_version: '0.1.0',
    server: 'http://127.0.0.1:4000',
    store: { encrypted: true, cipher_version: '4.6.1 community', keychain_backend: 'Secret Service' },
    has_account: hasAccount,
    session,
    lock,
  };
}

export const active: SessionView = { state: 'active', expires_at: 1_900_000_000 };

export const twoDevices: DeviceListView = {
  devices: [
    {
      device_id: 'aaaa0000',
      fingerprint: 'AAAA-BBBB-CCCC',
      label: null,
      state: 'active',
      this_device: true,
      origin: 'genesis',
      changed_at: 0,
      last_seen: 'today',
    },
    {
      device_id: 'bbbb1111',
      fingerprint: 'DDDD-EEEE-FFFF',
      label: 'Work laptop',
      state: 'active',
      this_device: false,
      origin: 'enrollment',
      changed_at: 1,
      last_seen: '3 days ago',
    },
  ],
  head_seq: 1,
  verified: true,
  synced: true,
};
