/**
 * The server under test, in its own process, run from the build (`npm run build`) the way
 * `trailguard serve` runs — plain node, no TypeScript loader, no source maps. One Trailguard instance
 * on PostgreSQL, no rate limit, geo off, no caller location in event lines (as `trailguard serve`);
 * security event lines go to BENCH_SECURITY_LOG (a file path,
 * written asynchronously; default /dev/null). Prints `READY <port> <ingest key>` when listening; exits
 * on SIGTERM after committing.
 */
import { createTrailguard } from '../../dist/index.js';
import { createServer } from '../../dist/http/server.js';
import { createAuthService } from '../../dist/auth/auth-service.js';

const databaseUrl = process.env['BENCH_DATABASE_URL'];
if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
const tg = await createTrailguard({
  databaseUrl,
  geo: false,
  poolSize: 12,
  // As `trailguard serve` configures it: in a server the caller location is always the route handler,
  // so lines carry none (capturing and formatting a stack per event cost ~16 % of the CPU).
  securityLog: { destination: process.env['BENCH_SECURITY_LOG'] ?? '/dev/null', location: false },
});
const auth = createAuthService({ db: tg.database.db, clock: tg.config.clock });
const { secret } = await auth.apiKeys.create({ name: 'bench', scope: 'ingest' });
const app = await createServer(tg, { auth, rateLimit: false, processMetrics: false, webRoot: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(`READY ${port} ${secret}\n`);
process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => tg.close())
    .then(() => process.exit(0));
});
