/** Seeded manglings of manifests, for fuzzing the config pipeline (the seed replays a failure). */
/** A small seeded PRNG (mulberry32), so a failing case can be replayed from its seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), a | 1);
    r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** One mangled manifest: flipped bytes, cut, repeated, nested, blown up, or all of them. */
export function mangle(base: string, rand: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
  let text = base;
  const steps = 1 + Math.floor(rand() * 3);
  for (let s = 0; s < steps; s++) {
    const at = Math.floor(rand() * text.length);
    switch (pick(['flip', 'cut', 'repeat', 'nest', 'wide', 'tabs', 'junk'] as const)) {
      case 'flip':
        text = text.slice(0, at) + String.fromCharCode(32 + Math.floor(rand() * 95)) + text.slice(at + 1);
        break;
      case 'cut':
        text = text.slice(0, at);
        break;
      case 'repeat':
        text = text.slice(0, at) + text.slice(at, at + 40).repeat(1 + Math.floor(rand() * 500)) + text.slice(at);
        break;
      case 'nest': {
        const depth = Math.floor(rand() * 5000);
        text = text.slice(0, at) + pick(['[', '{a: ', '- ']) + '['.repeat(depth) + ']'.repeat(depth) + text.slice(at);
        break;
      }
      case 'wide':
        text += `\nlist: [${Array.from({ length: Math.floor(rand() * 20_000) }, (_, i) => i).join(',')}]\n`;
        break;
      case 'tabs':
        text = text.replace(/\n  /g, () => (rand() < 0.5 ? '\n\t' : '\n  '));
        break;
      case 'junk':
        text = text.slice(0, at) + Array.from({ length: 200 }, () => String.fromCharCode(Math.floor(rand() * 0xd7ff) + 1)).join('') + text.slice(at);
        break;
    }
  }
  return text;
}
