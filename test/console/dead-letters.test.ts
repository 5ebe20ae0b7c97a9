import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ConveyorClient } from '../e2e/client.js';
import { accessibilityCheck, screenshot } from './browser.js';
import { ADMIN, useConsoleHarness } from './harness.js';

/**
 * The Dead letters page in a real browser against the stack `make start` brings up: a job dies for
 * real (its only attempt times out, so its message lands in the pool's dead-letter queue), an
 * operator finds it, inspects it, redrives it, and the job runs again.
 */
describe('dead letters in the console', () => {
  const { gatewayUrl, api, newPage, logIn, submitThroughApi } = useConsoleHarness('console-dlq');

  const until = async <T,>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const row = (page: Page, jobId: string) => page.locator('tbody tr', { has: page.locator(`a[href="/console/jobs/${jobId}"]`) });

  it('lets an admin inspect a dead job, redrive it and see it run again', async () => {
    const login = await fetch(`${gatewayUrl()}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
    const admin = new ConveyorClient(gatewayUrl(), ((await login.json()) as { accessToken: string }).accessToken);
    const jobId = await submitThroughApi({ type: 'sleep', payload: { ms: 4000 }, timeoutSeconds: 1, maxAttempts: 1, tags: ['dlq:console'] });
    await until('the job failed', async () => (await api().job(jobId)).body, (b) => b.status === 'failed');
    // GET /dlq lists the dead job once its message is in the dead-letter queue.
    await until('the dead letter listed', async () => ((await (await admin.request('/dlq?tenant=demo')).json()) as { items: { jobId: string }[] }).items, (items) => items.some((d) => d.jobId === jobId));

    const page = await newPage();
    await logIn(page, ADMIN);
    await page.getByRole('link', { name: 'Dead letters', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Dead letters' }).waitFor();
    const letter = row(page, jobId);
    await letter.waitFor();
    expect(await letter.textContent()).toMatch(/sleep.*demo.*1 \/ 1.*timed out after 1 s/);
    await screenshot(page, 'dead-letters');

    // Inspect: the letter up close, with the job's payload as submitted; focus goes to it.
    await letter.getByRole('button', { name: `Inspect job ${jobId}` }).click();
    const inspector = page.locator('section.inspector');
    await inspector.getByRole('heading', { name: /Dead letter of job/ }).waitFor();
    expect(await page.evaluate('document.activeElement?.id')).toBe('inspect-title');
    await inspector.locator('pre.code', { hasText: '"ms": 4000' }).waitFor();
    expect(await inspector.locator('pre.details').textContent()).toContain('timed out after 1 s');
    expect(await inspector.locator('.badge').textContent()).toBe('failed');
    expect((await accessibilityCheck(page)).violations).toEqual([]);
    await screenshot(page, 'dead-letter-inspect');
    // Closed, focus goes back to the button it was opened from; Enter opens it again.
    await inspector.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe(`inspect-${jobId}`);
    await page.keyboard.press('Enter');
    await inspector.getByRole('button', { name: 'Redrive this job' }).waitFor();

    await inspector.getByRole('button', { name: 'Redrive this job' }).click();
    await page.getByText(/Redrive of job [0-9a-f]{8}…: 1 of 1 dead letter\(s\) went back to their queues\./).waitFor();
    // The job runs again: a second attempt, which times out as the first did.
    const again = await until('the second attempt ended', async () => (await api().job(jobId)).body, (b) => b.status === 'failed' && b.attempts === 2, 60_000);
    expect(again).toMatchObject({ status: 'failed', attempts: 2 });
    await inspector.locator('.fact', { hasText: 'Attempts' }).getByText('2 of at most 2').waitFor();

    // Its page tells the story: the attempt that died, the redrive, the attempt after it.
    await inspector.getByRole('link', { name: jobId }).click();
    await page.locator('.attempts-table tbody tr').nth(1).waitFor();
    await page.getByText('The job has ended: its events are complete').waitFor();
    const titles = await page.locator('.timeline .timeline-title').allTextContents();
    expect(titles.filter((t) => t === 'Started')).toHaveLength(2);
    expect(titles.indexOf('Redriven from the dead letters')).toBeGreaterThan(titles.indexOf('Started'));
    expect(await page.locator('.timeline li', { hasText: 'Redriven from the dead letters' }).textContent()).toContain('was failed, by user-admin');
    await screenshot(page, 'dead-letter-redriven');

    // At 360 px the list and the inspector fit the screen (each row becomes a card).
    const narrow = await newPage({ width: 360 });
    await logIn(narrow, ADMIN);
    await narrow.goto(`${gatewayUrl()}/console/dead-letters`);
    await narrow.locator('tbody tr').first().waitFor();
    await narrow.locator('tbody tr').first().getByRole('button', { name: /^Inspect job/ }).click();
    await narrow.locator('section.inspector pre.code').waitFor();
    expect(await narrow.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    expect((await accessibilityCheck(narrow)).violations).toEqual([]);
    await screenshot(narrow, 'dead-letters-360');
  });

  it('shows a user without conveyor:admin neither the page in the menu nor any of its actions', async () => {
    const page = await newPage();
    await logIn(page);
    expect(await page.getByRole('link', { name: 'Dead letters', exact: true }).count()).toBe(0);
    await page.goto(`${gatewayUrl()}/console/dead-letters`);
    await page.getByRole('heading', { level: 1, name: 'Dead letters' }).waitFor();
    await page.getByText('Dead letters are for operators').waitFor();
    expect(await page.locator('main button').count()).toBe(0);
    expect((await accessibilityCheck(page)).violations).toEqual([]);
    expect(await page.locator('main table').count()).toBe(0);
  });
});
