/**
 * The native pump for tests. Where the addon is not built the native variants
 * skip, except under CI's SVCPROXY_REQUIRE_NATIVE_PUMP=1, where a missing addon
 * is a failure (the build step is part of what is tested).
 */
import { nativePumpUnavailable, sharedNativePump } from '../../src/proxy/pump-choice.js';
import type { NativePump } from '../../src/proxy/native-pump.js';

export const nativePump: NativePump | undefined = sharedNativePump();

/** tap's `skip` option for a test that needs the native pump: false to run it, or why it cannot. */
export function skipWithoutNative(): false | string {
  if (nativePump !== undefined) return false;
  if (process.env['SVCPROXY_REQUIRE_NATIVE_PUMP'] === '1') throw new Error(`SVCPROXY_REQUIRE_NATIVE_PUMP=1 but ${nativePumpUnavailable()}`);
  return `native pump unavailable: ${nativePumpUnavailable()}`;
}

/** The pumps a contract test runs against: always JS, native where it exists (or must). */
export const PUMPS: ReadonlyArray<'js' | 'native'> = ['js', 'native'];
