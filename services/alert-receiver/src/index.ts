export { ReceiverConfig, DEFAULT_RECEIVER_PORT } from './config.js';
export { registerReceiver, readNotifications, WebhookPayload, type Notification } from './receiver.js';
export { main } from './main.js';
