// Dates as people read them, in their own locale.

/** "23 Nov 2026, 17:40" for seconds since the epoch. */
export function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString(undefined, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** "just now", "5 minutes ago", else the date: how long ago `seconds` was, at `now` (both since the epoch). */
export function formatAgo(seconds: number, now: number): string {
  const minutes = Math.floor((now - seconds) / 60);
  if (minutes < 1) return 'just now';
  if (minutes === 1) return 'a minute ago';
  if (minutes < 60) return `${minutes} minutes ago`;
  return formatTime(seconds);
}

/** What a device is called: its label, "This computer", or the start of its fingerprint. */
export function deviceName(device: { label: string | null; fingerprint: string; this_device: boolean }): string {
  if (device.label) return device.label;
  return device.this_device ? 'This computer' : `Device ${device.fingerprint.slice(0, 9)}`;
}

/** "1 second", "42 seconds", "3 minutes": a wait of `seconds`, rounded up to whole minutes past 90 seconds. */
export function formatWait(seconds: number): string {
  if (seconds <= 90) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}
