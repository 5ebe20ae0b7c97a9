import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { screenshot } from './browser.js';
import { useConsoleHarness } from './harness.js';

const run = promisify(execFile);

/** A day ahead: the job stays `scheduled`. */
const later = () => new Date(Date.now() + 86_400_000).toISOString();

/** The count the Jobs page shows for a status, as a number ("10,000+" reads 10000). */
const shownCount = async (page: Page, status: string) => Number((await page.locator(`.counts a[data-status="${status}"] .count-value`).textContent())?.replace(/[^\d]/g, ''));

/**
 * The Jobs list's counts per status and live updates over GET /jobs/events (issue 25), in
 * Debian's Chromium against the stack `make start` runs.
 */
describe('console: the Jobs list, live', () => {
  const { api, gatewayUrl, newPage, logIn, logInAsOtherTenant, submitThroughApi } = useConsoleHarness('console-live');

  /** The page is the same document throughout: a reload would lose this mark. */
  const markDocument = (page: Page) => page.evaluate('window.__sameDocument = true');
  const sameDocument = (page: Page) => page.evaluate<boolean>('window.__sameDocument === true');

  it('shows counts per status, and jobs submitted through the API appear and go to success without a reload', async () => {
    const before = await submitThroughApi({ type: 'noop', payload: { before: true } });
    await api().waitForFinish(before, 30_000);
    const page = await newPage();
    await logIn(page);
    await page.getByText('Live: new jobs and status changes show as they happen').waitFor();
    await expect.poll(() => shownCount(page, 'success')).toBe(1);
    expect(await shownCount(page, 'scheduled')).toBe(0);
    await markDocument(page);

    // While the page is open: three jobs that run, one for tomorrow.
    const jobs = [await submitThroughApi({ type: 'sleep', payload: { ms: 1_500 } }), await submitThroughApi({ type: 'noop', payload: {} }), await submitThroughApi({ type: 'noop', payload: {} })];
    const waiting = await submitThroughApi({ type: 'noop', payload: {}, runAt: later() });
    const row = (jobId: string) => page.locator('tbody tr', { has: page.locator(`a[href="/console/jobs/${jobId}"]`) });
    for (const jobId of [...jobs, waiting]) await row(jobId).waitFor();
    expect(await row(waiting).locator('.badge').textContent()).toBe('scheduled');
    for (const jobId of jobs) await expect.poll(() => row(jobId).locator('.badge').textContent(), { timeout: 30_000 }).toBe('success');
    await expect.poll(() => shownCount(page, 'success'), { timeout: 10_000 }).toBe(4);
    await expect.poll(() => shownCount(page, 'scheduled')).toBe(1);
    expect(await sameDocument(page)).toBe(true);
    await screenshot(page, 'jobs-live');

    // Idle, the page asks nothing: the event stream, not a timer, is what reads again.
    let reads = 0;
    page.on('request', (request) => {
      if (['/jobs', '/jobs/counts'].includes(new URL(request.url()).pathname)) reads += 1;
    });
    await page.waitForTimeout(6_000);
    expect(reads).toBe(0);

    // Cancelling the waiting job (through the API) moves it from scheduled to cancelled on the page.
    expect((await api().request(`/jobs/${waiting}`, { method: 'DELETE' })).status).toBe(200);
    await expect.poll(() => row(waiting).locator('.badge').textContent()).toBe('cancelled');
    await expect.poll(() => shownCount(page, 'cancelled')).toBe(1);
    expect(await shownCount(page, 'scheduled')).toBe(0);
    expect(await sameDocument(page)).toBe(true);
  });

  it('reconnects after a dropped connection (sockets destroyed with ss -K) and shows what happened meanwhile', async () => {
    const page = await newPage();
    await logIn(page);
    const live = page.getByText('Live: new jobs and status changes show as they happen');
    await live.waitFor();
    await markDocument(page);
    const success = await shownCount(page, 'success');

    // The network drops the page's connections to the gateway (the kernel destroys the sockets, as a
    // lost Wi-Fi or a proxy's restart would); a job runs while the page reconnects.
    await run('ss', ['-K', 'dport', '=', `:${new URL(gatewayUrl()).port}`]);
    const meanwhile = await submitThroughApi({ type: 'noop', payload: { meanwhile: true } });
    await page.getByText('Connection lost: reconnecting…', { exact: false }).waitFor();
    await api().waitForFinish(meanwhile, 30_000);

    await live.waitFor({ timeout: 30_000 });
    const row = page.locator('tbody tr', { has: page.locator(`a[href="/console/jobs/${meanwhile}"]`) });
    await expect.poll(() => row.locator('.badge').textContent()).toBe('success');
    await expect.poll(() => shownCount(page, 'success')).toBe(success + 1);
    expect(await sameDocument(page)).toBe(true);
  });

  it('goes back to the login with a message when the token expires while the list is live, never a blank page', async () => {
    const page = await newPage();
    await logInAsOtherTenant(page, 'jobs:read jobs:write', '12s');
    await page.getByText('Live: new jobs and status changes show as they happen').waitFor();
    await page.getByText('No jobs match these filters.').waitFor();
    await page.getByRole('heading', { name: 'Log in to Conveyor' }).waitFor({ timeout: 30_000 });
    expect(await page.getByRole('alert').textContent()).toBe('Your session expired. Log in again to go on.');
    expect(await page.getByLabel('Email').isVisible()).toBe(true);
  });

  it('shows the counts and live list at 360 px wide, light and dark, nothing wider than the screen', async () => {
    const waiting = await submitThroughApi({ type: 'noop', payload: {}, runAt: later() });
    for (const dark of [false, true]) {
      const page = await newPage({ width: 360, dark });
      await logIn(page);
      await page.getByText('Live: new jobs and status changes show as they happen').waitFor();
      await page.locator(`a[href="/console/jobs/${waiting}"]`).waitFor();
      await expect.poll(() => shownCount(page, 'success')).toBeGreaterThan(0);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
      await screenshot(page, dark ? 'jobs-live-360-dark' : 'jobs-live-360');
    }
  });
});
