// Confirming that the recovery phrase was written down: the user retypes three words chosen at
// random, so copying the first line is not enough.

/** Three distinct word positions (0-based, ascending) out of `count`. */
export function pickPositions(count: number, random: () => number = Math.random): number[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(3, count)) {
    chosen.add(Math.floor(random() * count));
  }
  return [...chosen].sort((a, b) => a - b);
}

/** Whether a typed word is the expected one (case and surrounding spaces do not matter). */
export function sameWord(typed: string, expected: string): boolean {
  return typed.trim().toLowerCase() === expected.toLowerCase();
}
