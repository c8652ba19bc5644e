// pg_mq producer in Node.js (node-postgres): the transactional outbox.
//
// The order and the message announcing it are written in one transaction: the message exists
// if and only if the order does. Run:
//
//   DATABASE_URL=postgresql://app@localhost/shop node producer.js --orders 100
'use strict';
const { Client } = require('pg');

async function placeOrder(client, orderId, total, fail) {
  await client.query('BEGIN');
  try {
    await client.query('INSERT INTO orders (id, total) VALUES ($1, $2)', [orderId, total]);
    // node-postgres sends every parameter untyped; pg_mq has one function per name, so the
    // server infers the types. JSON must be a string: JSON.stringify (a JS array would be sent
    // as a PostgreSQL array literal).
    await client.query('SELECT mq_publish($1, $2, headers => $3)', [
      'orders',
      JSON.stringify({ order_id: orderId, total }),
      JSON.stringify({ source: 'node' }),
    ]);
    if (fail) throw new Error(`order ${orderId} could not be placed`);
    await client.query('COMMIT');
    return true;
  } catch (error) {
    await client.query('ROLLBACK');
    return false;
  }
}

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

async function main() {
  const orders = option('orders', 10);
  const first = option('first', 1);
  const failEvery = option('fail-every', 0);
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  let placed = 0;
  for (let orderId = first; orderId < first + orders; orderId++) {
    const fail = failEvery > 0 && orderId % failEvery === 0;
    if (await placeOrder(client, orderId, orderId * 10, fail)) placed++;
  }
  await client.end();
  console.log(`placed ${placed} orders`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
