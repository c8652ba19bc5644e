// pg_mq consumer in Node.js (node-postgres), done right:
//
// - poll outside a transaction, waiting server-side (long-poll), so the claim commits at once
//   and the lock timeout applies;
// - per message, do the work and mq_complete in one transaction, rolling the work back when
//   mq_complete says the lease is stale (the lock expired and someone else has the message);
// - mq_fail on error (the message is retried with backoff, then dead-lettered);
// - mq_extend as a heartbeat for long work;
// - with --batch, acknowledge a whole batch with one mq_complete_batch;
// - on SIGTERM or Ctrl-C, finish the message at hand and stop.
//
//   DATABASE_URL=postgresql://worker@localhost/shop node consumer.js --idle-exit 5
'use strict';
const { Client } = require('pg');

let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
process.on('SIGINT', () => { stopping = true; });

const consumer = process.env.CONSUMER || 'node';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The application's work, in the caller's transaction.
async function work(client, message) {
  const payload = message.payload; // jsonb arrives parsed
  if (payload.poison) throw new Error('cannot process this order');
  if (payload.slow) {
    // Long work: keep the lease alive, or the message is delivered to someone else.
    for (let i = 0; i < 3; i++) {
      await sleep(500);
      const { rows } = await client.query("SELECT mq_extend($1, $2, '30 seconds') AS until", [
        message.id,
        message.lease,
      ]);
      if (rows[0].until === null) throw new Error('lease lost');
    }
  }
  await client.query(
    'INSERT INTO processed (order_id, message_id, consumer) VALUES ($1, $2, $3)',
    [payload.order_id, message.id, consumer],
  );
}

// Work and acknowledgement in one transaction; returns what became of the message.
async function handle(client, message) {
  await client.query('BEGIN');
  try {
    await work(client, message);
    const { rows } = await client.query('SELECT mq_complete($1, $2) AS done', [
      message.id,
      message.lease,
    ]);
    if (!rows[0].done) {
      // Stale lease: roll the work back, the current holder does it.
      await client.query('ROLLBACK');
      return 'stale';
    }
    await client.query('COMMIT');
    return 'completed';
  } catch (error) {
    await client.query('ROLLBACK');
    await client.query('SELECT mq_fail($1, $2, $3)', [message.id, error.message, message.lease]);
    return 'failed';
  }
}

// Acknowledge the batch with one call and do the work of the messages still ours, in one
// transaction. If the work of one message fails, handle the batch message by message instead.
async function handleBatch(client, messages) {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query('SELECT status FROM mq_complete_batch($1, $2)', [
      messages.map((m) => m.id),
      messages.map((m) => m.lease),
    ]);
    for (let i = 0; i < messages.length; i++) {
      // status null: a stale lease, someone else has that message now
      if (rows[i].status === 'COMPLETED') await work(client, messages[i]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    for (const message of messages) await handle(client, message);
  }
}

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
}

async function main() {
  const topic = option('topic', 'orders');
  const idleExit = Number(option('idle-exit', 0));
  const lockTimeout = option('lock-timeout', '30 seconds');
  const batch = process.argv.includes('--batch');
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  let idleSince = Date.now();
  while (!stopping) {
    const { rows } = await client.query(
      "SELECT id, payload, lease, retry_count FROM mq_poll($1, 10, lock_timeout => $2, consumer_id => $3, wait => '1 second')",
      [topic, lockTimeout, consumer],
    );
    if (rows.length === 0) {
      if (idleExit && Date.now() - idleSince > idleExit * 1000) break;
      continue;
    }
    idleSince = Date.now();
    if (batch) {
      await handleBatch(client, rows);
    } else {
      for (const message of rows) {
        await handle(client, message);
        if (stopping) break;
      }
    }
  }
  await client.end();
  console.log('consumer stopped');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
