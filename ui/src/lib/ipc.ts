// The only module that talks to the Rust backend. The commands' wrappers are generated from
// the Rust command list (commands.ts) and the types from the Rust types (bindings.ts);
// components import from here, never `invoke` or `listen`.
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { EnrollmentProgress, IpcError, SessionUpdate } from './bindings';

export type * from './bindings';
export * from './commands';

/** Calls `handler` with the running enrollment's progress until the returned function is called. */
export function onEnrollmentProgress(handler: (progress: EnrollmentProgress) => void): Promise<UnlistenFn> {
  return listen<EnrollmentProgress>('enrollment-progress', (event) => handler(event.payload));
}

/** Calls `handler` with every live session update until the returned function is called. */
export function onSessionUpdate(handler: (update: SessionUpdate) => void): Promise<UnlistenFn> {
  return listen<SessionUpdate>('session-update', (event) => handler(event.payload));
}

/** Narrows whatever a rejected command threw into an {@link IpcError}. */
export function toIpcError(error: unknown): IpcError {
  if (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  ) {
    const { code, message, retry_after } = error as IpcError;
    return typeof retry_after === 'number' && retry_after >= 0 ? { code, message, retry_after } : { code, message };
  }
  return { code: 'internal', message: 'Something went wrong inside Enigm. Please try again.' };
}
