#!/usr/bin/env node
/** Prints the worker pools, one name per line: `make start` runs one worker per pool from this list. */
import { WORKER_POOLS } from './topology.js';

process.stdout.write(WORKER_POOLS.map((pool) => `${pool.name}\n`).join(''));
