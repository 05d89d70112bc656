// Starts the example on http://127.0.0.1:3000 with Trailguard on the embedded database, in enforce
// mode: after 5 failed sign-ins from one address within 15 minutes, that address gets a 429.
import { createTrailguard } from 'trailguard';
import { createApp, createUsers } from './app.mjs';

const tg = await createTrailguard({
  dataDir: process.env.TRAILGUARD_DATA_DIR ?? './.trailguard/example-db',
  detection: { mode: 'enforce' },
});
const app = createApp({
  tg,
  users: createUsers([{ id: '1', email: 'alice@example.com', password: 'correct horse battery staple' }]),
});
await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`example API on http://127.0.0.1:${app.server.address().port}`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => void app.close().then(() => tg.close()));
}
