// Words and geometry for the device timeline; the lanes and their states come from the backend,
// which replays the verified ledger through the core's lifecycle.
import type { Actor, DeviceState, DeviceTimelineView, TimelineLane, TimelineSegment } from './bindings';
import { deviceName } from './format';

/**
 * One change in the history, as a sentence, for the text alternative; `when` is the time the
 * device that made it signed (its own clock: shown as "around", never used for order).
 */
export type HistoryLine = { seq: number; text: string; when: number | null };

/** The tone a state is drawn in (always with its word and a tooltip, never by color alone). */
export function tone(state: DeviceState): 'ok' | 'warn' | 'danger' | 'muted' {
  switch (state) {
    case 'active':
      return 'ok';
    case 'pending':
    case 'review':
    case 'suspended':
      return 'warn';
    case 'revoked':
      return 'danger';
    case 'replaced':
    case 'retired':
      return 'muted';
  }
}

/** The state's word, as the badges say it. */
export function stateWord(state: DeviceState): string {
  switch (state) {
    case 'active':
      return 'Active';
    case 'pending':
      return 'Waiting';
    case 'review':
      return 'In review';
    case 'suspended':
      return 'Suspended';
    case 'revoked':
      return 'Removed';
    case 'replaced':
      return 'Replaced';
    case 'retired':
      return 'Retired';
  }
}

/** Who made a change, named for people. */
export function actorName(timeline: DeviceTimelineView, actor: Actor, by: string | null): string {
  switch (actor) {
    case 'recovery_key':
      return 'the recovery phrase';
    case 'organization':
      return 'your organization';
    case 'device': {
      const lane = timeline.lanes.find((candidate) => candidate.device_id === by);
      return lane ? deviceName(lane) : 'another device';
    }
  }
}

/** What happened to `lane` at `segment`, as a sentence. */
export function describe(timeline: DeviceTimelineView, lane: TimelineLane, segment: TimelineSegment): string {
  const name = deviceName(lane);
  const who = actorName(timeline, segment.actor, segment.by);
  switch (segment.change) {
    case 'genesis':
      return `${name} created the account.`;
    case 'add_device':
      return segment.state === 'replaced'
        ? `${name} was replaced by a new device, approved by ${who}.`
        : `${name} was added, approved by ${who}.`;
    case 'recover':
      return segment.state === 'revoked'
        ? `${name} was removed when the account was restored with the recovery phrase.`
        : `${name} restored the account with the recovery phrase.`;
    case 'review':
      return segment.state === 'active'
        ? `${name} was approved by your organization.`
        : `${name} was turned down by your organization.`;
    case 'revoke':
      return `${name} was removed by ${who}${segment.reason && segment.reason !== 'unspecified' ? ` (${segment.reason})` : ''}.`;
    case 'suspend':
      return `${name} was suspended by ${who}.`;
    case 'resume':
      return `${name} was resumed by ${who}.`;
    case 'retire':
      return `${name} was retired by ${who}.`;
    default:
      return `${name} became ${stateWord(segment.state).toLowerCase()} (${segment.change}).`;
  }
}

/** Every change, oldest first, as sentences. */
export function historyLines(timeline: DeviceTimelineView): HistoryLine[] {
  const lines: HistoryLine[] = timeline.lanes.flatMap((lane) =>
    lane.segments.map((segment) => ({
      seq: segment.from_seq,
      text: describe(timeline, lane, segment),
      when: segment.signed_at,
    })),
  );
  for (const mark of timeline.marks) {
    const who = actorName(timeline, mark.actor, mark.by);
    const text =
      mark.kind === 'rotate_recovery'
        ? `A new recovery phrase was made by ${who}.`
        : mark.kind === 'join_organization'
          ? 'The account joined an organization.'
          : mark.kind === 'leave_organization'
            ? 'The account left its organization.'
            : `The account changed (${mark.kind}).`;
    lines.push({ seq: mark.seq, text, when: mark.signed_at });
  }
  return lines.sort((a, b) => a.seq - b.seq);
}
