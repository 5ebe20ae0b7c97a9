export { startOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from './outbox.relay.js';
export {
  CANCEL_CHANNEL,
  createOutboxSignal,
  OUTBOX_CHANNEL,
  OUTBOX_EVENTS_PAYLOAD,
  SCHEDULED_CHANNEL,
  type OutboxSignal,
  type OutboxSignalOptions,
} from './outbox.signal.js';
export { startListener, type ListenerOptions } from './outbox.listener.js';
export { jobMessage, eventMessage, type JobEventMessage, type OutboxMessage } from './outbox.messages.js';
