import { describe, expect, it } from 'vitest';
import { formatAgo, formatTime, formatWait } from './format';
import { pickPositions, sameWord } from './phrase';
import { passwordStrength } from './strength';

describe('phrase confirmation', () => {
  it('asks for three distinct positions in order, whatever the random source', () => {
    const repeating = [0.5, 0.5, 0.5, 0.1, 0.9];
    let index = 0;
    const positions = pickPositions(24, () => repeating[index++ % repeating.length] ?? 0);
    expect(positions).toEqual([2, 12, 21]);
  });

  it('compares words without regard to case or spaces, and nothing else', () => {
    expect(sameWord('  Abandon ', 'abandon')).toBe(true);
    expect(sameWord('abando', 'abandon')).toBe(false);
  });
});

describe('password strength', () => {
  it('grows with length and variety', () => {
    expect(passwordStrength('abc').word).toBe('Too short');
    expect(passwordStrength('abcdefgh').word).toBe('Weak');
    expect(passwordStrength('abcdefgh1!').word).toBe('Fair');
    expect(passwordStrength('correct horse battery').word).toBe('Strong');
  });
});

describe('coarse times', () => {
  it('says how long ago in words while recent, the date after an hour', () => {
    const now = 1_800_000_000;
    expect(formatAgo(now - 20, now)).toBe('just now');
    expect(formatAgo(now - 60, now)).toBe('a minute ago');
    expect(formatAgo(now - 14 * 60, now)).toBe('14 minutes ago');
    expect(formatAgo(now - 2 * 3600, now)).toBe(formatTime(now - 2 * 3600));
  });
});

describe('waits', () => {
  it('counts seconds while short, whole minutes (rounded up) after a minute and a half', () => {
    expect(formatWait(1)).toBe('1 second');
    expect(formatWait(42)).toBe('42 seconds');
    expect(formatWait(90)).toBe('90 seconds');
    expect(formatWait(91)).toBe('2 minutes');
    expect(formatWait(15 * 60)).toBe('15 minutes');
  });
});
