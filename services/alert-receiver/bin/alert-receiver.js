#!/usr/bin/env node
// The local stack's webhook receiver (deploy/local/stack.sh starts it): `alert-receiver --config <file>`.
import { main } from '../dist/main.js';

await main(process.argv.slice(2), process.env);
