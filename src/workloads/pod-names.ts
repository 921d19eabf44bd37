/**
 * Names as Kubernetes controllers give them (../shared notes §3), made
 * deterministic: where the API server appends 5 random characters
 * (`generateName`), svcproxy derives them from a hash, so the same config
 * gives the same Pod names on every run, and so the same addresses.
 *
 *   Deployment   web-<pod-template-hash>-<5>   (web-7c4c8d5d4f-x2k9q)
 *   ReplicaSet   web-<5>
 *   ReplicationController  web-<5>   (generateName `web-`, as its controller sets it)
 *   DaemonSet    web-<5>
 *   StatefulSet  web-0, web-1, … (from spec.ordinals.start)
 */
import { fnv1a32 } from '../hash.js';

/** utilrand's alphabet: no vowels (no words), no 0/1/3 (no look-alikes). */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** names.SimpleNameGenerator keeps this much of the base, so that base + 5 characters fits a label (63). */
const MAX_BASE_LENGTH = 58;

/** A DNS label (a Pod's hostname) is at most 63 characters. */
const MAX_HOSTNAME_LENGTH = 63;

/**
 * rand.SafeEncodeString of a hash's decimal form: each digit becomes a
 * character of the alphabet, as pod-template-hash is written
 * (so 0-9 -> 4 5 6 7 8 9 b c d f).
 */
export function encodeHash(hash: number): string {
  let out = '';
  for (const digit of String(hash >>> 0)) out += ALPHABET[digit.charCodeAt(0) % ALPHABET.length] ?? '';
  return out;
}

/** Five characters of the alphabet derived from `seed`: the stand-in for utilrand.String(5). */
export function nameSuffix(seed: string): string {
  let h = fnv1a32(seed);
  let out = '';
  for (let i = 0; i < 5; i++) {
    out += ALPHABET[h % ALPHABET.length] ?? '';
    h = Math.floor(h / ALPHABET.length);
  }
  return out;
}

/** What the API server makes of `generateName: <base>-`: the base cut to 58 characters, then the suffix. */
export function generatedName(owner: string, suffix: string): string {
  return `${owner}-`.slice(0, MAX_BASE_LENGTH) + suffix;
}

/** The kubelet cuts a hostname to 63 characters and drops a trailing `-` or `.` (truncatePodHostnameIfNeeded). */
export function podHostname(podName: string): string {
  if (podName.length <= MAX_HOSTNAME_LENGTH) return podName;
  return podName.slice(0, MAX_HOSTNAME_LENGTH).replace(/[-.]+$/, '');
}
