// The changes to the account's devices this app made itself (suspend, resume, remove in the
// Devices screen): their news still shows as a notice in the window, but raises no desktop
// notification. Each is forgotten once its news arrives, or after a minute.

/** How long a change made here waits for its news. */
const WINDOW_MS = 60_000;

const made = new Map<string, number>();

/** Notes that this app is changing device `deviceId` now. */
export function noteOwnChange(deviceId: string) {
  made.set(deviceId, Date.now());
}

/** Whether the news about `deviceId` comes from a change this app made (forgets it). */
export function takeOwnChange(deviceId: string): boolean {
  const at = made.get(deviceId);
  made.delete(deviceId);
  return at !== undefined && Date.now() - at < WINDOW_MS;
}
