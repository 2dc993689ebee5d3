// One word for one thing, in everything the app says: "this computer" is the one you are at;
// "devices" are all of the account's, this computer included. So the app never says "this
// device" (for the computer you are at) and never "computers" (for the account's list).

/** A phrase the rule forbids, and what to say instead. */
export interface WordSlip {
  found: string;
  instead: string;
}

const RULES: { pattern: RegExp; instead: string }[] = [
  { pattern: /\bthis device(?:'s|’s)?\b/gi, instead: 'this computer' },
  { pattern: /\bcomputers\b/gi, instead: 'devices' },
];

/** What the user reads in a source file: its text without comments (which are for developers). */
export function userText(source: string): string {
  return source
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(^|[^:])\/\/.*$/gm, '$1');
}

/** Every place `text` breaks the rule. */
export function wordSlips(text: string): WordSlip[] {
  return RULES.flatMap(({ pattern, instead }) =>
    Array.from(text.matchAll(pattern), (match) => ({ found: match[0], instead })),
  );
}
