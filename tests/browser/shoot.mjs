// Screenshots of console pages, for a look by eye:
//   MQ_CONSOLE_TOKEN=... node shoot.mjs http://127.0.0.1:8080 out-dir /path1 /path2 ...
import { launch, newPage, login } from './lib.mjs';
import path from 'node:path';
import fs from 'node:fs';

const [base, outDir, ...paths] = process.argv.slice(2);
if (!base || !outDir) {
  console.error('usage: node shoot.mjs BASE_URL OUT_DIR PATH...');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
const browser = await launch();
try {
  const page = await newPage(browser);
  if (process.env.MQ_CONSOLE_TOKEN) await login(page, base, process.env.MQ_CONSOLE_TOKEN);
  for (const p of paths.length ? paths : ['/']) {
    await page.goto(base + p);
    await page.waitForTimeout(1500);
    const name = p.replace(/[^a-zA-Z0-9]+/g, '_').replace(/^_|_$/g, '') || 'overview';
    await page.screenshot({ path: path.join(outDir, `${name}.png`), fullPage: true });
    console.log(`${p} -> ${name}.png`);
  }
  if (page.problems.length) console.log(page.problems.join('\n'));
} finally {
  await browser.close();
}
