#!/usr/bin/env node
// The `trailguard` bin.
import { main } from './program.ts';

await main();
