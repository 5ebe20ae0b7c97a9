export { createJobEventsHandler, type JobEventsHandler, type JobEventsHandlerOptions } from './sse.handler.js';
export { startJobEventsConsumer, completionNotice, type JobEventsConsumerOptions, type WebhookBody } from './events.consumer.js';
export { OutboxListener, type OutboxListenerOptions } from './outbox.listener.js';
