import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { throttle } from './outbox.signal.js';

describe('throttle (the outbox signal’s NOTIFY rate)', () => {
  let sent: number[];
  let finishSend: Array<() => void>;
  const send = () =>
    new Promise<void>((resolve) => {
      sent.push(Date.now());
      finishSend.push(resolve);
    });
  const settle = async () => {
    for (const finish of finishSend.splice(0)) finish();
    await vi.advanceTimersByTimeAsync(0);
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
    sent = [];
    finishSend = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the first call at once and folds the calls of the next interval into one at its end', async () => {
    const t = throttle(send, 25);
    t.call();
    expect(sent).toEqual([0]);
    await settle();
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(2);
      t.call();
    }
    expect(sent).toEqual([0]);
    await vi.advanceTimersByTimeAsync(5);
    expect(sent).toEqual([0, 25]);
    await settle();
    await vi.advanceTimersByTimeAsync(100);
    expect(sent, 'nothing more was asked for').toEqual([0, 25]);
  });

  it('never sends twice at once: calls during a slow send go out once it has finished', async () => {
    const t = throttle(send, 25);
    t.call();
    await vi.advanceTimersByTimeAsync(60);
    t.call();
    t.call();
    expect(sent).toEqual([0]);
    await settle();
    expect(sent).toEqual([0, 60]);
  });

  it('a call long after the last send goes out at once', async () => {
    const t = throttle(send, 25);
    t.call();
    await settle();
    await vi.advanceTimersByTimeAsync(1_000);
    t.call();
    expect(sent).toEqual([0, 1_000]);
  });

  it('sends nothing once stopped, not even a call waiting for its interval', async () => {
    const t = throttle(send, 25);
    t.call();
    await settle();
    t.call();
    t.stop();
    await vi.advanceTimersByTimeAsync(100);
    t.call();
    expect(sent).toEqual([0]);
  });
});
