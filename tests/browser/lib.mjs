// Shared by the browser scenarios: start Debian's Chromium headless through playwright-core,
// log in to mq-console with its token, collect page errors (a CSP violation is one), and
// save screenshots as artifacts.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// The flags Chromium needs as root in a container; playwright gives it a fresh profile
// directory of its own on every launch.
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60000 });
}

export class Failure extends Error {}

export function check(condition, message) {
  if (!condition) throw new Failure(message);
}

// A page that records console errors and uncaught exceptions (and so every CSP violation,
// which Chromium reports as a console error).
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  return page;
}

// No JavaScript error and no blocked resource on the page so far. Expected HTTP errors (a
// 403 the scenario provoked) are allowed by `allow`.
export function checkNoProblems(page, allow = []) {
  const problems = page.problems.filter((p) => !allow.some((a) => p.includes(a)));
  check(problems.length === 0, `problems on the page:\n  ${problems.join('\n  ')}`);
}

export async function login(page, baseUrl, token, next = '/') {
  await page.goto(baseUrl + next);
  check(new URL(page.url()).pathname === '/login', `not sent to /login but to ${page.url()}`);
  await page.fill('#token', token);
  await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
  check(new URL(page.url()).pathname !== '/login', `still on the login page: ${await page.textContent('body')}`);
}

export function artifactsDir() {
  const dir = process.env.MQ_BROWSER_ARTIFACTS || path.resolve('target/browser-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export async function screenshot(page, name) {
  const file = path.join(artifactsDir(), `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}

export function env(name) {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Failure(`environment variable ${name} is not set`);
  return value;
}
