import { describe, expect, it } from 'vitest';
import { accessibilityCheck, screenshot } from './browser.js';
import { useConsoleHarness } from './harness.js';

/**
 * A job's page in a real browser against the stack `make start` brings up: the payload as
 * submitted (text, never markup), why the job waits, and "copy as curl" without the user's token.
 */
describe("a job's page in the console", () => {
  const { gatewayUrl, api, newPage, logIn, submitThroughApi } = useConsoleHarness('console-job');

  const HOSTILE = '<img src=x onerror=alert(1)>';

  it('shows the payload as JSON text, why the job waits, and copies its submit as curl with a placeholder token', async () => {
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const jobId = await submitThroughApi({ type: 'noop', payload: { note: HOSTILE, order: { id: 42, lines: ['a', 'b'] } }, runAt, tags: ['env:test'] });

    // The one-job read carries the payload; the list leaves it out.
    const { body: one } = await api().job(jobId);
    expect(one).toMatchObject({ payload: { note: HOSTILE, order: { id: 42 } }, waitingReason: 'scheduled' });
    const list = (await (await api().request('/jobs?type=noop&limit=50')).json()) as { items: Record<string, unknown>[] };
    const listed = list.items.find((j) => j.jobId === jobId);
    expect(listed).toBeDefined();
    expect(listed).not.toHaveProperty('payload');

    const page = await newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gatewayUrl() });
    await logIn(page);
    await page.goto(`${gatewayUrl()}/console/jobs/${jobId}`);
    const payload = page.locator('section', { has: page.getByRole('heading', { name: 'Payload' }) }).locator('pre');
    await payload.waitFor();
    // Formatted JSON, shown as text: the markup inside the string is not an element of the page.
    expect(await payload.textContent()).toBe(JSON.stringify({ note: HOSTILE, order: { id: 42, lines: ['a', 'b'] } }, null, 2));
    expect(await page.locator('main img').count()).toBe(0);
    expect(dialogs).toEqual([]);

    const waiting = page.locator('.facts div', { hasText: 'Waiting because' });
    expect(await waiting.textContent()).toContain('its run time is ahead');
    expect(await waiting.locator('code').textContent()).toBe('scheduled');

    await page.getByRole('button', { name: 'Copy submit as curl' }).click();
    await page.getByText('Copied').waitFor();
    const command = await page.evaluate<string>('navigator.clipboard.readText()');
    const token = await page.evaluate<string>("JSON.parse(sessionStorage.getItem('conveyor.console.session')).token");
    expect(command).toContain(`curl -sS ${gatewayUrl()}/jobs -H "authorization: Bearer $TOKEN"`);
    expect(command).not.toContain(token);
    // The body recreates the job: type, payload and tags, quoted for the shell.
    const body = /-d '(.*)'$/.exec(command)?.[1];
    expect(JSON.parse(body ?? 'null')).toEqual({ type: 'noop', payload: { note: HOSTILE, order: { id: 42, lines: ['a', 'b'] } }, tags: ['env:test'] });

    expect((await accessibilityCheck(page)).violations).toEqual([]);
    await screenshot(page, 'job-payload');
  });

  it('is read in a sensible order with the keyboard and fits 360 px', async () => {
    const jobId = await submitThroughApi({ type: 'noop', payload: { customer: 'c-1', items: [1, 2, 3] } });
    await api().waitForFinish(jobId, 30_000);
    const page = await newPage({ width: 360 });
    await logIn(page);
    await page.goto(`${gatewayUrl()}/console/jobs/${jobId}`);
    await page.locator('.timeline-succeeded').waitFor();
    await page.getByRole('heading', { name: 'Payload' }).waitFor();
    // From the page's heading (where a new page puts focus), Tab reaches its actions first, then its content.
    await page.getByRole('heading', { level: 1 }).focus();
    const focusedName = "(() => { const el = document.activeElement; const by = el?.getAttribute('aria-labelledby'); return ((by ? 'region ' + document.getElementById(by)?.textContent : el?.getAttribute('aria-label') ?? el?.textContent) ?? '').trim(); })()";
    const order: string[] = [];
    for (let i = 0; i < 20 && !order.includes('region Payload'); i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate<string>(focusedName));
    }
    expect(order.slice(0, 2)).toEqual(['Copy as curl', 'Copy submit as curl']);
    expect(order).toContain('region Payload');
    // Every stop has a name a screen reader can say.
    expect(order.filter((name) => name === '')).toEqual([]);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    expect((await accessibilityCheck(page)).violations).toEqual([]);
    await screenshot(page, 'job-360');
  });
});
