// Shared set-up: Debian's Chromium driven by playwright-core (no browser download).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

export const BASE = process.env.E2E_BASE_URL ?? 'http://127.0.0.1:3199';
export const TOKEN = process.env.E2E_TOKEN ?? '';
const OUT = process.env.E2E_OUTPUT_DIR ?? 'test-results';

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/// Saves a full-page PNG next to the test output, for people to look at.
export async function screenshot(page, name) {
  mkdirSync(OUT, { recursive: true });
  const path = `${OUT}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: end2end/${path}`);
}
