#!/usr/bin/env node
// Committed entry point so npm can link the `vigie` command before the TypeScript build has run.
import '../dist/main.js';
