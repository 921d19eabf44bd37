/**
 * Debian's chromium driven by playwright-core, for the dashboard's browser tests. Skipped where there is no browser
 * at CHROMIUM_PATH (default /usr/bin/chromium), unless SVCPROXY_REQUIRE_CHROMIUM=1 (set by .ci/run), where the
 * test fails instead.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import type { Test } from 'tap';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const REQUIRED = process.env['SVCPROXY_REQUIRE_CHROMIUM'] === '1';
/** The flags that work in this project's containers (toolchain.md §6). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** tap's `skip` for a browser test: false where it must run. */
export const chromiumSkip: string | false =
  existsSync(CHROMIUM) || REQUIRED ? false : `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

/** A headless chromium with a profile of its own (removed at teardown), at 1400x900 unless told; closed at teardown. */
export async function launchChromium(t: Test, viewport = { width: 1400, height: 900 }): Promise<{ browser: BrowserContext; page: Page }> {
  if (!existsSync(CHROMIUM)) throw new Error(`SVCPROXY_REQUIRE_CHROMIUM=1 but there is no browser at ${CHROMIUM}`);
  const profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  t.teardown(() => rm(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport });
  t.teardown(() => browser.close());
  const page = browser.pages()[0] ?? (await browser.newPage());
  return { browser, page };
}
