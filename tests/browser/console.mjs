// Browser scenarios of mq-console, one per run:
//   node console.mjs SCENARIO
// with MQ_CONSOLE_URL and MQ_CONSOLE_TOKEN naming a running console, and the scenario's own
// variables (MQ_TEST_*) naming what the caller seeded. tests/live/tests/console.rs runs each
// scenario against a throw-away cluster and then checks the database. Exit status 0 when the
// scenario passed, 1 when it failed (with the reason), 2 when it was called wrongly.
import {
  launch, newPage, login, check, checkNoProblems, screenshot, env, Failure,
} from './lib.mjs';

const scenarios = {
  // The login refuses a wrong token; the overview lists the seeded topics, draws both charts
  // and refreshes its table and charts from the JSON API without reloading the page.
  async overview_lists_topics_and_updates_live(page, base, token) {
    await page.goto(base + '/');
    check(new URL(page.url()).pathname === '/login', 'a page without a session must go to /login');
    await page.fill('#token', 'not-the-token-at-all');
    const [wrong] = await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    check(wrong.status() === 401, `a wrong token must answer 401, got ${wrong.status()}`);
    check(await page.isVisible('#login-error'), 'a wrong token must say so');
    await login(page, base, token);

    for (const topic of env('MQ_TEST_TOPICS').split(',')) {
      const row = page.locator(`#topics tbody tr[data-topic="${topic}"]`);
      check(await row.count() === 1, `topic ${topic} is not listed on the overview`);
    }
    const topic = env('MQ_TEST_TOPICS').split(',')[0];
    const pending = env('MQ_TEST_PENDING');
    const cell = await page.textContent(`#topics tbody tr[data-topic="${topic}"] td:nth-child(2)`);
    check(cell.trim() === pending, `topic ${topic} shows ${cell.trim()} pending, not ${pending}`);

    // Live: mark the rendered rows and the page; an update replaces the rows from
    // /api/topics, and the page itself is never reloaded.
    await page.evaluate(() => {
      window.notReloaded = true;
      document.querySelectorAll('#topics tbody tr').forEach((tr) => { tr.dataset.old = '1'; });
    });
    const before = Number(await page.evaluate(() => document.body.dataset.updates || '0'));
    await page.waitForFunction((n) => Number(document.body.dataset.updates || '0') >= n + 2, before, { timeout: 20000 });
    check(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded');
    check(await page.locator('#topics tbody tr[data-old]').count() === 0, 'the topic rows were not refreshed');
    check(await page.locator(`#topics tbody tr[data-topic="${topic}"]`).count() === 1, 'a refresh lost a topic');
    check((await page.textContent('#live-status')).includes('updated'), 'the live status does not say updated');

    // Depth: the samples taken before the page opened are drawn. Rates need a snapshot a step
    // (30 s) before each point, which a cluster this young has not got: the chart must be
    // there with its three series named.
    await page.waitForSelector('#chart-depth .plot svg');
    const depthPoints = Number(await page.getAttribute('#chart-depth .plot', 'data-points'));
    check(depthPoints > 0, 'the depth chart draws no points');
    await page.waitForSelector('#chart-rates .plot svg');
    const legend = await page.locator('#chart-rates .legend .name').allTextContents();
    check(legend.join(',') === 'consumed/s,failed/s,dead-lettered/s', `rates legend: ${legend}`);
    check(await page.locator('#chart-depth path.series, #chart-depth circle.dot-point').count() >= 1, 'the depth chart has no line');
    await screenshot(page, 'overview');

    await page.click('button[data-window="1d"]');
    await page.waitForFunction(() => document.getElementById('window-label').textContent === 'day');
    await page.waitForSelector('#chart-depth .plot svg');
    await screenshot(page, 'overview-1d');
    checkNoProblems(page, ['401']);
  },

  // A message page shows payload and the trace as a timeline.
  async message_trace_timeline(page, base, token) {
    const id = env('MQ_TEST_MESSAGE_ID');
    await login(page, base, token, `/messages/${id}`);
    await page.waitForSelector('#timeline');
    const events = await page.locator('#timeline li .event-head > span:first-child').allTextContents();
    for (const e of ['PUBLISHED', 'PROCESSING', 'FAILED', 'DEAD_LETTERED']) {
      check(events.includes(e), `the timeline lacks ${e}: ${events.join(', ')}`);
    }
    check(events.indexOf('PUBLISHED') < events.indexOf('DEAD_LETTERED'), `events out of order: ${events}`);
    check(await page.locator('#timeline li.this').count() >= 4, 'the message\'s own events are not marked');
    check(await page.isVisible('#payload'), 'no payload');
    check((await page.textContent('#payload')).includes(env('MQ_TEST_PAYLOAD_TEXT')), 'the payload is not shown');
    check(await page.isVisible('#replay-message'), 'an admin sees no replay button for a dead-lettered message');
    await screenshot(page, 'message-trace');
    checkNoProblems(page);
  },

  // Replaying one dead letter goes through a confirmation page.
  async replay_one_dead_letter(page, base, token) {
    const id = env('MQ_TEST_DEAD_LETTER_ID');
    const topic = env('MQ_TEST_TOPIC');
    await login(page, base, token, `/dead-letters?topic=${encodeURIComponent(topic)}`);
    const button = page.locator(`#dead-letters tr[data-id="${id}"] button.replay-one`);
    check(await button.count() === 1, `no replay button for dead letter ${id}`);
    await Promise.all([page.waitForNavigation(), button.click()]);
    check(await page.isVisible('#confirm-replay'), 'no confirmation page');
    check((await page.textContent('#confirm-form')).includes(`#${id}`), 'the confirmation does not name the dead letter');
    await screenshot(page, 'replay-confirm');
    await Promise.all([page.waitForNavigation(), page.click('#confirm-replay')]);
    check((await page.textContent('#notice')).includes('Replayed 1 dead letter.'), `notice: ${await page.textContent('body')}`);
    check(await page.locator(`#dead-letters tr[data-id="${id}"]`).count() === 0, 'the replayed dead letter is still listed as not replayed');
    await screenshot(page, 'replay-done');
    checkNoProblems(page);
  },

  // Ticking dead letters and replaying the selection.
  async replay_selected_dead_letters(page, base, token) {
    const ids = env('MQ_TEST_DEAD_LETTER_IDS').split(',');
    const topic = env('MQ_TEST_TOPIC');
    await login(page, base, token, `/dead-letters?topic=${encodeURIComponent(topic)}`);
    for (const id of ids) await page.check(`#dead-letters input[name="id"][value="${id}"]`);
    await Promise.all([page.waitForNavigation(), page.click('#replay-selected')]);
    check((await page.textContent('#confirm-form')).includes(`${ids.length}`), 'the confirmation does not count the selection');
    await Promise.all([page.waitForNavigation(), page.click('#confirm-replay')]);
    check((await page.textContent('#notice')).includes(`Replayed ${ids.length} dead letters.`), `notice: ${await page.textContent('#notice')}`);
    checkNoProblems(page);
  },

  // Everything that matches the filter, replayed on the server in batches.
  async replay_all_matching(page, base, token) {
    const topic = env('MQ_TEST_TOPIC');
    const expected = env('MQ_TEST_EXPECTED');
    await login(page, base, token, `/dead-letters?topic=${encodeURIComponent(topic)}`);
    await Promise.all([page.waitForNavigation(), page.click('#replay-all')]);
    check((await page.textContent('#confirm-form')).includes(topic), 'the confirmation does not name the topic');
    await Promise.all([page.waitForNavigation({ timeout: 60000 }), page.click('#confirm-replay')]);
    check((await page.textContent('#notice')).includes(`Replayed ${expected} dead letters.`), `notice: ${await page.textContent('#notice')}`);
    check(await page.isVisible('p#dead-letters'), 'dead letters of the topic are still listed');
    await screenshot(page, 'replay-all-done');
    checkNoProblems(page);
  },

  // Pausing a topic from its page (needs mq_pause and mq_resume).
  async pause_topic(page, base, token) {
    const topic = env('MQ_TEST_TOPIC');
    await login(page, base, token, `/topics/${topic}`);
    await Promise.all([page.waitForNavigation(), page.click('#pause-topic')]);
    check((await page.textContent('#notice')).includes('Paused.'), `notice: ${await page.textContent('body')}`);
    check(await page.isVisible('#paused-badge'), 'the topic does not show as paused');
    await screenshot(page, 'topic-paused');
    checkNoProblems(page);
  },

  async resume_topic(page, base, token) {
    const topic = env('MQ_TEST_TOPIC');
    await login(page, base, token, `/topics/${topic}`);
    await Promise.all([page.waitForNavigation(), page.click('#resume-topic')]);
    check((await page.textContent('#notice')).includes('Resumed.'), `notice: ${await page.textContent('body')}`);
    check(!(await page.isVisible('#paused-badge')), 'the topic still shows as paused');
    checkNoProblems(page);
  },

  // A monitor role sees the queues but no action, and a POST it makes anyway (with a valid
  // session and CSRF token) is refused with 403.
  async monitor_sees_no_actions(page, base, token) {
    const topic = env('MQ_TEST_TOPIC');
    const deadLetter = env('MQ_TEST_DEAD_LETTER_ID');
    await login(page, base, token);
    check((await page.textContent('#role')).trim() === 'monitor', 'the header does not say monitor');
    check(await page.locator(`#topics tbody tr[data-topic="${topic}"]`).count() === 1, 'the monitor does not see the topic');
    await screenshot(page, 'monitor-overview');

    await page.goto(`${base}/dead-letters?topic=${encodeURIComponent(topic)}`);
    for (const sel of ['#replay-all', '#replay-selected', '.replay-one', '#replay-form', 'input[name="id"]']) {
      check(await page.locator(sel).count() === 0, `the monitor sees ${sel} on the dead letters`);
    }
    await screenshot(page, 'monitor-dead-letters');
    await page.goto(`${base}/topics/${topic}`);
    for (const sel of ['#pause-actions', '#pause-topic', '#resume-topic']) {
      check(await page.locator(sel).count() === 0, `the monitor sees ${sel} on the topic page`);
    }
    const message = await page.goto(`${base}/messages/${env('MQ_TEST_MESSAGE_ID')}`);
    check(await page.locator('#replay-message').count() === 0, 'the monitor sees a replay button on a message');
    check([200, 403].includes(message.status()), `message page: ${message.status()}`);

    await page.goto(`${base}/`);
    const csrf = await page.inputValue('form[action="/logout"] input[name="csrf"]');
    check(csrf && csrf.length > 20, 'no CSRF token on the page');
    const status = await page.evaluate(async ([csrf, id]) => {
      const r = await fetch('/dead-letters/replay', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, one: id, confirm: 'yes' }),
      });
      return r.status;
    }, [csrf, deadLetter]);
    check(status === 403, `a monitor's replay POST answered ${status}, not 403`);
    checkNoProblems(page, ['403']);
  },

  // A monitor that POSTs a pause anyway gets 403 (needs mq_pause and mq_resume).
  async monitor_cannot_pause(page, base, token) {
    const topic = env('MQ_TEST_TOPIC');
    await login(page, base, token, `/topics/${topic}`);
    const csrf = await page.inputValue('form[action="/logout"] input[name="csrf"]');
    const status = await page.evaluate(async ([csrf, topic]) => {
      const r = await fetch(`/topics/${topic}/pause`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf }),
      });
      return r.status;
    }, [csrf, topic]);
    check(status === 403, `a monitor's pause POST answered ${status}, not 403`);
    checkNoProblems(page, ['403']);
  },

  // A logged-in admin's POST without the session's CSRF token, or with another one, is 403.
  async csrf_is_required(page, base, token) {
    const id = env('MQ_TEST_DEAD_LETTER_ID');
    await login(page, base, token, '/dead-letters');
    const statuses = await page.evaluate(async (id) => {
      const post = (body) => fetch('/dead-letters/replay', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
      }).then((r) => r.status);
      return [
        await post({ one: id, confirm: 'yes' }),
        await post({ one: id, confirm: 'yes', csrf: 'f'.repeat(64) }),
        await post({ one: id, confirm: 'yes', csrf: '' }),
      ];
    }, id);
    check(statuses.every((s) => s === 403), `POSTs without the CSRF token answered ${statuses}`);
    // A form on another site cannot post either: the cookie is SameSite=Strict, and the
    // console checks Origin. Here: a POST with a foreign Origin and the right token.
    const csrf = await page.inputValue('form[action="/logout"] input[name="csrf"]');
    const foreign = await page.request.post(`${base}/dead-letters/replay`, {
      form: { one: id, confirm: 'yes', csrf },
      headers: { Origin: 'http://evil.example' },
      maxRedirects: 0,
    });
    check(foreign.status() === 403, `a POST with a foreign Origin answered ${foreign.status()}`);
    checkNoProblems(page, ['403']);
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`usage: node console.mjs SCENARIO\nscenarios: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}

const base = env('MQ_CONSOLE_URL').replace(/\/$/, '');
const token = env('MQ_CONSOLE_TOKEN');
const browser = await launch();
let failed = false;
try {
  const page = await newPage(browser);
  try {
    await scenarios[name](page, base, token);
    console.log(`scenario ${name}: ok`);
  } catch (e) {
    failed = true;
    console.log(`scenario ${name}: FAILED: ${e instanceof Failure ? e.message : e.stack}`);
    await screenshot(page, `${name}-failure`).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
