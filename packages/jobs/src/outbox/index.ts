export { startOutboxRelay, OUTBOX_CHANNEL, type OutboxRelay, type OutboxRelayOptions } from './outbox.relay.js';
export { jobMessage, eventMessage, type JobEventMessage, type OutboxMessage } from './outbox.messages.js';
