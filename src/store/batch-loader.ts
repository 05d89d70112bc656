/**
 * Gathers lookups made in the same tick into one query (the DataLoader pattern), so per-record reads
 * on a hot path cost one round trip per batch instead of one per record.
 * @module
 */

/** Returns a function that queues `req` and resolves with its answer from one batched `run`. */
export function createBatchLoader<Req, Res>(
  run: (requests: Req[]) => Promise<Res[]>,
  maxBatch = 1000,
): (request: Req) => Promise<Res> {
  let queue: { req: Req; resolve: (r: Res) => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;
  function flush(): void {
    scheduled = false;
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(maxBatch);
      run(batch.map((b) => b.req)).then(
        (results) => {
          batch.forEach((b, i) => b.resolve(results[i] as Res));
        },
        (err: unknown) => {
          for (const b of batch) b.reject(err);
        },
      );
    }
  }
  return (req) =>
    new Promise<Res>((resolve, reject) => {
      queue.push({ req, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
