// The only module that talks to the Rust backend. Every command's request and response type is
// declared here, matching src-tauri/src/commands; components import functions, never `invoke`.
import { invoke } from '@tauri-apps/api/core';

/** The encrypted local store and where its key is kept. */
export interface StoreStatus {
  /** Always true: there is no plaintext mode; the field exists so the UI never assumes. */
  encrypted: boolean;
  /** SQLCipher's own version string, read from the open database. */
  cipherVersion: string;
  /** The OS keychain holding the store key, e.g. "Secret Service". */
  keychainBackend: string;
}

/** What the window shows at start. */
export interface AppStatus {
  appVersion: string;
  store: StoreStatus;
}

/** Errors cross IPC as a stable code and a message that is safe to show. */
export interface IpcError {
  code: string;
  message: string;
}

/** Opens (or creates) this computer's profile and reports its store and keychain. */
export function appStatus(): Promise<AppStatus> {
  return invoke<AppStatus>('app_status');
}

/** Narrows whatever a rejected command threw into an {@link IpcError}. */
export function toIpcError(error: unknown): IpcError {
  if (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  ) {
    const { code, message } = error as IpcError;
    return { code, message };
  }
  return { code: 'internal', message: 'Something went wrong inside Enigm. Please try again.' };
}
