// The one-word rule over every string the UI shows: "this computer" for the one you are at,
// "devices" for the account's (see lib/words.ts). Generated types (bindings.ts) and tests are
// not shown to anyone and are left out.
import { describe, expect, it } from 'vitest';
import { userText, wordSlips } from './lib/words';

const sources = import.meta.glob(['./**/*.svelte', './**/*.ts', '!./**/*.test.ts', '!./lib/bindings.ts', '!./lib/words.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

describe('one word for one thing', () => {
  it('catches "this device" for this computer and "computers" for the list, not comments', () => {
    expect(wordSlips('This device was removed from your account').map((slip) => slip.instead)).toEqual([
      'this computer',
    ]);
    expect(wordSlips('Use this device’s keys')).toHaveLength(1);
    expect(wordSlips('Copy it between the two computers')).toEqual([{ found: 'computers', instead: 'devices' }]);
    expect(wordSlips('This computer was removed; your other devices were told.')).toEqual([]);
    expect(wordSlips(userText('<!-- this device --> // this device\n/* computers */ ok'))).toEqual([]);
    expect(wordSlips(userText("const url = 'http://host'; // this device"))).toEqual([]);
  });

  it('holds in every screen and component', () => {
    expect(Object.keys(sources).length).toBeGreaterThan(20);
    const slips = Object.entries(sources).flatMap(([file, source]) =>
      wordSlips(userText(source)).map((slip) => `${file}: "${slip.found}" (say "${slip.instead}")`),
    );
    expect(slips).toEqual([]);
  });
});
