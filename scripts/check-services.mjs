#!/usr/bin/env node
// Fails unless the PostgreSQL and Redis named by the test env vars answer. Used by .ci/run.
import pg from 'pg';
import { Redis } from 'ioredis';

const dbUrl = process.env.TRAILGUARD_TEST_DATABASE_URL;
const redisUrl = process.env.TRAILGUARD_TEST_REDIS_URL;
let failed = false;

if (!dbUrl) {
  console.error('TRAILGUARD_TEST_DATABASE_URL is not set');
  failed = true;
} else {
  const client = new pg.Client({ connectionString: dbUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rows } = await client.query('SHOW server_version');
    console.log(`PostgreSQL ${rows[0].server_version} reachable`);
  } catch (err) {
    console.error(`PostgreSQL unreachable (${dbUrl.replace(/:[^:@/]*@/, ':***@')}): ${err.message}`);
    failed = true;
  } finally {
    await client.end().catch(() => {});
  }
}

if (!redisUrl) {
  console.error('TRAILGUARD_TEST_REDIS_URL is not set');
  failed = true;
} else {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 5000,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    console.log(`Redis ${await redis.ping()} reachable`);
  } catch (err) {
    console.error(`Redis unreachable (${redisUrl}): ${err.message}`);
    failed = true;
  } finally {
    redis.disconnect();
  }
}
process.exit(failed ? 1 : 0);
