import { z } from 'zod';
import { defineJobType, PermanentJobError } from '@conveyor/worker-sdk';

/** Counts the words of a text and names the most frequent: the team's one job type. */
export const wordCount = defineJobType({
  name: 'text.word-count',
  version: 1,
  schema: z.object({
    text: z.string().max(100_000),
    top: z.number().int().min(1).max(50).default(5),
  }),
  timeout: 30,
  retries: 2,
  handler: async ({ text, top }, ctx) => {
    if (text.trim() === '') throw new PermanentJobError('nothing to count: the text is empty');
    const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
    await ctx.progress(50, `${words.length} words read`);
    ctx.signal.throwIfAborted();
    const counts = new Map<string, number>();
    for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
    const ranked = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top);
    ctx.logger.info({ words: words.length }, 'counted');
    return { json: { words: words.length, top: ranked.map(([word, count]) => ({ word, count })) } };
  },
});
