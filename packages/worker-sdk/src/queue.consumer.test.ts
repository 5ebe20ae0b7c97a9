import { describe, expect, it } from 'vitest';
import { deleteOutcomes } from './queue.consumer.js';

describe('deleteOutcomes (pure; the emulator never refuses a delete, real SQS does)', () => {
  it('rejects exactly the entries SQS listed as failed, with its code', () => {
    const outcomes = deleteOutcomes(4, [{ Id: '2', Code: 'ReceiptHandleIsInvalid', Message: 'bad handle', SenderFault: true }]);
    expect(outcomes.map((o) => o instanceof Error)).toEqual([false, false, true, false]);
    expect((outcomes[2] as Error).message).toBe('SQS refused to delete the message: ReceiptHandleIsInvalid bad handle');
  });
});
