export { createJobEventsHandler, type JobEventsHandler, type JobEventsHandlerOptions } from './sse.handler.js';
export { startJobEventsConsumer, completionNotice, type JobEventsConsumerOptions, type WebhookBody } from './events.consumer.js';
export { signWebhook, verifyWebhook, SIGNATURE_HEADER, EVENT_ID_HEADER, type VerifyResult } from './webhook.signature.js';
export type { WebhookOptions } from './webhook.sender.js';
