// Starts the example on http://127.0.0.1:3000 with Trailguard on the embedded database, in enforce
// mode: after 5 failed sign-ins from one address within 15 minutes, that address gets a 429.
import { createTrailguard } from 'trailguard';
import { createApp, createUsers } from './app.mjs';

const tg = await createTrailguard({
  dataDir: process.env.TRAILGUARD_DATA_DIR ?? './.trailguard/example-db',
  detection: { mode: 'enforce' },
});
const users = createUsers([
  { id: '1', email: 'alice@example.com', password: 'correct horse battery staple' },
  { id: '2', email: 'bob@example.com', password: 'hunter2-but-longer' },
]);
const port = Number(process.env.PORT ?? 3000);
const server = createApp({ tg, users }).listen(port, '127.0.0.1', () => {
  console.log(`example app on http://127.0.0.1:${port} (alice@example.com / correct horse battery staple)`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => server.close(() => void tg.close()));
}
