// A hint for the password field, not a rule: the service takes any password (OPAQUE keeps it
// off the wire), so this only nudges people towards long ones.

export type Strength = { score: 0 | 1 | 2 | 3; word: 'Too short' | 'Weak' | 'Fair' | 'Strong' };

/** Rates a password by length and variety of characters. */
export function passwordStrength(password: string): Strength {
  const length = [...password].length;
  if (length < 8) return { score: 0, word: 'Too short' };
  const kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((kind) => kind.test(password)).length;
  if (length >= 16 || (length >= 12 && kinds >= 3)) return { score: 3, word: 'Strong' };
  if (length >= 12 || kinds >= 3) return { score: 2, word: 'Fair' };
  return { score: 1, word: 'Weak' };
}
