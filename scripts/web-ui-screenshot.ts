/**
 * Regenerates docs/web-ui.png: the web UI in Debian's chromium against the real server, with the
 * demo's concept ticked, one of its test photos, a question about it and "Is it in this photo?".
 * Run `npx yollava demo` first (it learns <muto> and saves it in the library).
 *
 *   node --import tsx scripts/web-ui-screenshot.ts [--model DIR] [--library DIR] [--concept muto]
 *        [--photo FILE] [--question "What color are <muto>'s eyes?"] [--out docs/web-ui.png]
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { ConceptLibrary } from '../src/personalize/ConceptLibrary.ts';
import { YollavaServer } from '../src/server/YollavaServer.ts';

const home = process.env.YOLLAVA_HOME ?? join(homedir(), '.yollava');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/yollava-world' },
    library: { type: 'string', default: join(home, 'concepts') },
    concept: { type: 'string', default: 'muto' },
    photo: { type: 'string' },
    question: { type: 'string' },
    out: { type: 'string', default: 'docs/web-ui.png' },
  },
});
const concept = values.concept;
const photo = values.photo ?? join(home, 'demo', 'world-0-pool-1000', 'yollava-data', 'test', concept, '0.png');
const question = values.question ?? `What color are <${concept}>'s eyes?`;
const chromium = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const fail = (message: string): never => { process.stderr.write(`web-ui-screenshot: ${message}\n`); process.exit(2); };
if (!chromium) fail('no chromium found (apt-get install chromium, or set CHROMIUM_PATH)');
if (!existsSync(photo)) fail(`${photo}: no such photo (run npx yollava demo first, or pass --photo)`);
const library = new ConceptLibrary(values.library);
if (!library.list().some((entry) => entry.name === concept)) fail(`${values.library} has no concept "${concept}" (run npx yollava demo first, or pass --library / --concept)`);

const vlm = await VisionLanguageModel.load(values.model);
const server = new YollavaServer({ vlm, library });
const url = await server.listen(0);
const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  await page.goto(`${url}/`);
  await page.waitForSelector(`#concepts input[value="${concept}"]`);
  await page.click(`#concepts input[value="${concept}"]`);
  const picker = await page.$('#photo-input');
  await (picker as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(photo);
  await page.waitForSelector('#photo-preview:not([hidden])');
  await page.type('#prompt', question);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.message.assistant:not(.pending)');
  await page.click('#recognize');
  await page.waitForSelector('#recognition-results li[data-probability]');
  await page.screenshot({ path: values.out });
  console.log(`${values.out}: <${concept}>, ${photo}`);
} finally {
  await browser.close();
  await server.close();
}
