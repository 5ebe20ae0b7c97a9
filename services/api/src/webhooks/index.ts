export { webhookRoutes, deliveryLogRoutes, assertCallbackUrlAllowed, type DeliveryLogDeps } from './routes.js';
export { startWebhookDispatcher, type WebhookDispatcher, type DispatcherOptions } from './dispatcher.js';
export { WebhookSecrets } from './secrets.js';
export { createSecretBox } from './secret-box.js';
export { createWebhookMetrics, type WebhookMetrics } from './metrics.js';
export { targetPolicy, STRICT_POLICY, type TargetPolicy } from './target.js';
export { signWebhook, verifyWebhook, SIGNATURE_HEADER, EVENT_ID_HEADER, type VerifyResult } from './signature.js';
export { rotateSecretBody, webhookSecretReply, deliveryList, deliveryParams, deliveryView } from './schemas.js';
export type { CircuitView } from './sender.js';
