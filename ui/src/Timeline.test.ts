// The device history picture says only what applies: no "0, 1" axis for a short history, and
// a legend that names the organization or the recovery phrase only when one of them acted.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import DeviceTimeline from './lib/DeviceTimeline.svelte';
import type { DeviceTimelineView } from './lib/bindings';

afterEach(cleanup);

const lane = (id: string, label: string | null) => ({
  device_id: id,
  fingerprint: 'AAAA BBBB CCCC DDDD',
  label,
  this_device: false,
  segments: [{ from_seq: 0, state: 'active' as const, change: 'genesis' as const, actor: 'device' as const, by: id, reason: null, signed_at: null }],
});

const legend = () => screen.getByTestId('timeline-legend').textContent?.replace(/\s+/g, ' ').trim();

describe('the device history picture', () => {
  it('draws no axis numbers for a short personal history, and names only a device in the legend', () => {
    const short: DeviceTimelineView = { head_seq: 1, lanes: [lane('aaaa', 'A rather long device name')], marks: [] };
    render(DeviceTimeline, { timeline: short });
    const picture = screen.getByRole('img', { name: /Device history/ });
    expect(picture.querySelectorAll('.tick')).toHaveLength(0);
    expect(legend()).toBe('Oldest change on the left. ● by a device.');
    expect(picture.querySelector('.name')?.textContent?.trim()).toBe('A rather long d…');
  });

  it('numbers a longer history and names the recovery phrase and organization when they acted', () => {
    const long: DeviceTimelineView = {
      head_seq: 5,
      lanes: [lane('aaaa', null)],
      marks: [
        { seq: 4, kind: 'rotate_recovery', actor: 'recovery_key', by: null, signed_at: null },
        { seq: 5, kind: 'join_organization', actor: 'organization', by: null, signed_at: null },
      ],
    };
    render(DeviceTimeline, { timeline: long });
    expect(screen.getByRole('img', { name: /Device history/ }).querySelectorAll('.tick').length).toBeGreaterThan(2);
    expect(legend()).toBe(
      'Numbers are the account’s changes in order. ● by a device, ◆ by the recovery phrase, ■ by your organization.',
    );
  });
});
