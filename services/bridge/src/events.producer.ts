import type { Kafka, Producer } from '@conveyor/platform';
import type { RecordRef } from './records.js';

export interface Rejection {
  ref: RecordRef;
  jobId: string | null;
  reason: string;
}

/** Records set-aside messages on the events topic, so audit and operators see every rejection. */
export function rejectedEventsProducer(kafka: Kafka, topic: string) {
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let connected: Promise<void> | undefined;
  producer.on(producer.events.DISCONNECT, () => {
    connected = undefined;
  });
  return {
    async send(rejections: Rejection[]): Promise<void> {
      if (rejections.length === 0) return;
      await (connected ??= producer.connect());
      const createdAt = new Date().toISOString();
      await producer.send({
        topic,
        acks: -1,
        messages: rejections.map(({ ref, jobId, reason }) => ({
          key: jobId,
          value: JSON.stringify({
            eventId: null,
            jobId,
            tenant: null,
            owner: null,
            jobType: null,
            type: 'rejected',
            data: { reason, source: ref },
            createdAt,
          }),
        })),
      });
    },
    disconnect: () => producer.disconnect(),
  };
}

export type RejectedEventsProducer = ReturnType<typeof rejectedEventsProducer>;
