import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../support/make-start.js';

/** Debian's Chromium, installed by the project's own script: no browser download. */
export const CHROMIUM = '/usr/bin/chromium';

/** Screenshots of every page; CONSOLE_SCREENSHOT_DIR=docs/console refreshes the committed ones. */
export const SCREENSHOT_DIR = path.resolve(ROOT, process.env.CONSOLE_SCREENSHOT_DIR ?? '.run/console-screenshots');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) execFileSync(path.join(ROOT, 'scripts/infra/chromium.sh'), ['install'], { stdio: 'inherit' });
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // Playwright gives each launch a fresh, empty profile. Without the background-networking flags
  // Chromium dials Google's hosts at start, which this machine's closed network refuses.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** What went wrong in a page that a person would not see: script errors and CSP refusals. */
export interface PageProblems {
  errors: string[];
}

export async function openPage(context: BrowserContext, problems: PageProblems): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // The browser logs every CSP refusal (script, style, connection, Trusted Types) as an error.
    if (message.type() === 'error' && /Content Security Policy|TrustedHTML|TrustedScript/i.test(message.text())) {
      problems.errors.push(`console: ${message.text()}`);
    }
  });
  return page;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
}

const axeSource = () => {
  const require = createRequire(import.meta.url);
  return require('node:fs').readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8') as string;
};

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/**
 * axe-core's WCAG 2.1 A/AA checks (labels, names, contrast, landmarks, ...) on the page as shown:
 * the rules that failed, and the ids of those that passed. It is evaluated through the DevTools
 * protocol, which the page's CSP does not govern.
 */
export async function accessibilityCheck(page: Page): Promise<{ violations: AxeViolation[]; passed: string[] }> {
  await page.evaluate(axeSource());
  return page.evaluate(`
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then((result) => ({
      violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })),
      passed: result.passes.map((p) => p.id),
    }))
  `);
}
