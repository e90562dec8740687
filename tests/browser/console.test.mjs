// The console in a real browser (Debian's /usr/bin/chromium driven by playwright-core): a batch
// runs on `sfn-local serve` with an SES-side fault, the operator finds an order (one Query of the
// order index; the scan says what it searched), sees the failed step on the graph, opens the
// cause, ends the outage, bulk-redrives with a dry run first, and sees every execution SUCCEEDED
// with one email each; an order whose email bounced shows the bounce on its timeline. Also: an
// order field holding <script> is shown as text, and cross-site POSTs are refused. Writes the
// screenshots under docs/.
//
// Usage: node tests/browser/console.test.mjs (tests/browser/run.sh builds and installs first).

import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const root = resolve(new URL('../..', import.meta.url).pathname);
const bin = (name) => join(root, 'target', 'debug', name);
const work = mkdtempSync(join(tmpdir(), 'sfn-console-test-'));
const children = [];
const LIMIT_MS = 60_000;
const ORDER = '492500005643';
const BOUNCED = '492500005644';
const XSS = '<script>window.__pwned = 1</script>';

/// Starts a server that prints one JSON line once listening; resolves to that line's object.
function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${cmd} printed no address in 60 s`)), LIMIT_MS);
    child.on('exit', (code) => fail(new Error(`${cmd} exited ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      ok(JSON.parse(line));
    });
  });
}

/// One Step Functions API call to sfn-local (AWS JSON 1.0; sfn-local checks no signature).
async function sfn(endpoint, target, body) {
  const r = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target },
    body: JSON.stringify(body),
  });
  const json = await r.json();
  assert.equal(r.status, 200, `${target}: ${JSON.stringify(json)}`);
  return json;
}

/// AWS's events about what ran, through the real recorder on sfn-local's state directory (the
/// status changes of every execution; with `ses`, SES's events of that order's emails).
function recordEvidence(state, project, ses) {
  const args = ['--state-dir', state, '--project-root', project, ...(ses ? ['--ses', ses] : [])];
  const r = spawnSync(bin('record-evidence'), args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `record-evidence: ${r.stderr}`);
  // Its last line (before it, the recorder's EMF metric lines, as Lambda's stdout carries them).
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function pollUntil(what, fn) {
  const deadline = Date.now() + LIMIT_MS;
  for (;;) {
    const v = await fn();
    if (v) return v;
    assert.ok(Date.now() < deadline, `${what}: not within ${LIMIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  // A copy of the project whose order holds <script> in its name (an untrusted order field that
  // the email, and so the console's outbox view, carries).
  const project = join(work, 'project');
  mkdirSync(project);
  for (const p of ['template.yaml', 'statemachine', 'events']) cpSync(join(root, p), join(project, p), { recursive: true });
  const ordersFile = join(project, 'events/tables/orders.json');
  const orders = readFileSync(ordersFile, 'utf8').replace('"Jane Doe"', JSON.stringify(`Jane ${XSS} Doe`));
  assert.ok(orders.includes('__pwned'), 'the fixture carries the <script> name');
  // The other order's customer is SES's mailbox simulator address that bounces.
  writeFileSync(ordersFile, orders.replace('somchai@example.com', 'bounce@simulator.amazonses.com'));

  const state = join(work, 'state');
  const api = await start(bin('sfn-local'), [
    '--state-dir', state, '--project-root', project, '--quiet', '--virtual-clock',
    '--fail', 'notify-failure=TransientError:always', 'serve', '--port', '0',
  ]);
  const machines = (await sfn(api.endpoint, 'AWSStepFunctions.ListStateMachines', {})).stateMachines;
  const batchMachine = machines.find((m) => m.name.startsWith('process-unpaid-orders')).stateMachineArn;
  const orderMachine = machines.find((m) => !m.name.startsWith('process-unpaid-orders')).stateMachineArn;
  const records = readFileSync(join(project, 'events/stream-batch.json'), 'utf8');
  const batch = (await sfn(api.endpoint, 'AWSStepFunctions.StartExecution', {
    stateMachineArn: batchMachine, name: 'outage-batch', input: records,
  })).executionArn;
  await pollUntil('the batch ends', async () =>
    (await sfn(api.endpoint, 'AWSStepFunctions.DescribeExecution', { executionArn: batch })).status !== 'RUNNING');
  assert.ok(recordEvidence(state, project).statusChanges > 0, 'the order index is filled');

  const consoleServer = await start(bin('sfn-console'), [
    '--endpoint-url', api.endpoint, 'serve', '--port', '0', '--sfn-local-state-dir', state, '--rate', '20',
  ]);
  const url = consoleServer.url.replace(/\/$/, '');
  const userDataDir = mkdtempSync(join(work, 'chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const shots = join(root, 'docs');
  mkdirSync(shots, { recursive: true });
  const shot = (page, name) => page.screenshot({ path: join(shots, `console-${name}.png`), fullPage: true });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // State machines.
    await page.goto(`${url}/`);
    await page.getByRole('link', { name: machines[0].name, exact: true }).waitFor();
    await shot(page, 'machines');

    // Find the order by id: its batch and its failed per-order execution.
    await page.getByLabel('Order id').fill(ORDER);
    await page.getByRole('button', { name: 'Find order' }).click();
    await page.locator('#order-id').filter({ hasText: ORDER }).waitFor();
    assert.match(await page.locator('#searched[data-method="index"]').innerText(),
      /^Found 2 execution\(s\) in the order index payment3-unpaid-order-index-dev/);
    // The scan finds the same two, and says how many executions it searched.
    await page.locator('#scan-link').click();
    assert.match(await page.locator('#searched[data-method="scan"]').innerText(), /^Searched \d+ executions \(/);
    assert.equal(await page.locator('#attempts tbody tr').count(), 2);
    await page.goBack();
    // The batch itself ends FAILED too (its sample batch holds a malformed record, which pages):
  // the order's own failed attempt is the per-order execution.
  const failedRow = page.locator('#attempts tr[data-status="FAILED"]').filter({ hasNotText: 'outage-batch' });
    assert.equal(await failedRow.count(), 1, 'one failed attempt of the order');
    assert.match(await failedRow.innerText(), /TransientError/);

    // Its failed step, marked on the graph and in the states table; the cause opens.
    await failedRow.locator('a').first().click();
    const failedNode = page.locator('svg.graph g.state.failed[data-state="NotifyFailure"]');
    await failedNode.waitFor();
    assert.equal(await page.locator('svg.graph g.state.failed').count(), 1, 'only NotifyFailure failed');
    assert.equal(await page.locator('svg.graph g.state.succeeded[data-state="LoadOrder"]').count(), 1);
    assert.equal(await page.locator('svg.graph g.state.not-reached[data-state="OrderNotFound"]').count(), 1);
    assert.match(await page.locator('tr[data-state="NotifyFailure"]').innerText(), /failed · retried \d+ times/);
    const cause = page.locator('#cause pre');
    assert.equal(await cause.isVisible(), false, 'the cause is folded until opened');
    await page.locator('#cause summary').click();
    await cause.waitFor({ state: 'visible' });
    assert.match(await cause.innerText(), /injected by sfn-local --fail notify-failure/);
    assert.match(await page.locator('#event-id').innerText(), /^[0-9a-f]{32}$/, 'the stream record eventID');
    await shot(page, 'execution-failed');
    await page.locator('#batch-link').click();
    assert.equal(await page.locator('#children tbody tr').count(), 5, 'the batch links its 5 records');

    // The outage ends.
    await sfn(api.endpoint, 'SfnLocal.SetFaults', { faults: [] });

    // Bulk redrive: dry run first (nothing redriven), then confirm.
    await page.getByRole('link', { name: 'Redrive failed' }).click();
    await page.locator('#bulk-filter select[name="machine"]').selectOption(orderMachine);
    await page.locator('#bulk-filter input[name="error"]').fill('TransientError');
    await page.locator('#dry-run').click();
    await page.locator('#dry-run-result').waitFor();
    const wouldRedrive = await page.locator('#would-redrive tbody tr').allInnerTexts();
    assert.match(await page.locator('#selected-how').innerText(), /errors from the order index payment3-unpaid-order-index-dev for \d+, from DescribeExecution for 0/);
    assert.ok(wouldRedrive.length >= 2, `the dry run lists the failed orders: ${wouldRedrive}`);
    assert.ok(wouldRedrive.every((r) => r.includes('TransientError')), 'only the error asked for');
    const redrivenYet = await sfn(api.endpoint, 'AWSStepFunctions.ListExecutions', {
      stateMachineArn: orderMachine, redriveFilter: 'REDRIVEN',
    });
    assert.equal(redrivenYet.executions.length, 0, 'a dry run redrives nothing');
    await shot(page, 'bulk-dry-run');
    await page.getByRole('checkbox').check();
    await page.locator('#confirm-redrive').click();
    await page.locator('#redrive-summary').waitFor();
    assert.equal(await page.locator('#redrive-results tr[data-ok="true"]').count(), wouldRedrive.length);
    await shot(page, 'bulk-results');

    // Every one SUCCEEDED, redriven once; the others were never redriven.
    const listed = (filter) => sfn(api.endpoint, 'AWSStepFunctions.ListExecutions', { stateMachineArn: orderMachine, ...filter });
    await pollUntil('the redriven executions succeed', async () => {
      const r = (await listed({ redriveFilter: 'REDRIVEN' })).executions;
      return r.length === wouldRedrive.length && r.every((e) => e.status === 'SUCCEEDED');
    });
    assert.ok((await listed({ redriveFilter: 'NOT_REDRIVEN', statusFilter: 'FAILED' })).executions
      .every((e) => e.redriveCount === 0));

    // The order: SUCCEEDED, one email, and its <script> name shown as text, never run.
    const recorded = recordEvidence(state, project, BOUNCED);
    assert.equal(recorded.sesEvents, 2, 'SES\'s Send and Bounce of the bounced email');
    for (const id of [ORDER, BOUNCED]) {
      await page.goto(`${url}/order?id=${id}`);
      assert.equal(await page.locator('#attempts tr[data-status="FAILED"]').filter({ hasNotText: 'outage-batch' }).count(), 0, `${id}: no failed attempt left`);
      assert.equal(await page.locator('#attempts tr[data-status="SUCCEEDED"]').count(), 1, `${id}: its execution`);
      // The batch stays FAILED (RecordsNeedAnOperator: the sample's malformed record pages).
      assert.equal(await page.locator('#attempts tr[data-status="FAILED"]').filter({ hasText: 'outage-batch' }).count(), 1, `${id}: its batch`);
      assert.match(await page.locator('#sent-summary').innerText(), /^1 email\(s\)/, `${id}: one email`);
    }
    await page.goto(`${url}/order?id=${ORDER}`);
    await page.locator('#emails summary').first().click();
    assert.ok((await page.locator('#emails pre').innerText()).includes(XSS), 'the name is shown as text');
    assert.equal(await page.evaluate(() => document.scripts.length), 0, 'no script element on the page');
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'the order field never ran');
    await shot(page, 'order');

    // The timeline of the order whose email bounced: newest first, the bounce on top of the send.
    await page.goto(`${url}/order?id=${BOUNCED}`);
    const timeline = page.locator('#timeline');
    const bounce = timeline.locator('li[data-kind="ses-event"]').filter({ has: page.locator('[data-ses="Bounce"]') });
    assert.equal(await bounce.count(), 1, 'one Bounce');
    assert.match(await bounce.innerText(), /the customer did not get the email/);
    assert.ok(await page.locator('#never-heard').isVisible(), 'the notice above the timeline');
    const kinds = await timeline.locator('li').evaluateAll((items) => items.map((li) => li.dataset.kind));
    for (const kind of ['stream-record', 'execution-started', 'redrive', 'execution-ended', 'payment-header',
      'attempt-record', 'sns', 'email-claim', 'email-sent', 'ses-event']) {
      assert.ok(kinds.includes(kind), `the timeline shows ${kind}: ${kinds}`);
    }
    assert.ok(kinds.indexOf('ses-event') < kinds.indexOf('email-sent'), `newest first: ${kinds}`);
    assert.match(await timeline.innerText(), /b\*\*\*@simulator\.amazonses\.com/);
    assert.ok(!(await page.content()).includes('bounce@simulator'), 'never the whole address');
    await shot(page, 'order-timeline');
    await page.locator('#attempts tr[data-status="SUCCEEDED"] a').first().click();
    await page.locator('svg.graph g.state.succeeded[data-state="NotifyFailure"]').waitFor();
    assert.equal(await page.locator('#redrive-count').innerText(), '1');
    await shot(page, 'execution');

    // A cross-site POST (a page on another origin, with a form aimed at the console) is refused,
    // and so is a same-origin POST without the token; neither redrives anything.
    const stillFailed = (await listed({ statusFilter: 'FAILED' })).executions[0];
    assert.ok(stillFailed, 'an execution that failed for another reason (CheckStatusNotFound)');
    const evil = createServer((_, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form method="post" action="${url}/redrive"><input name="arn" value="${stillFailed.executionArn}">` +
        '<input name="token" value="guessed"><button id="go">go</button></form>');
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    await page.goto(`http://127.0.0.1:${evil.address().port}/`);
    const [response] = await Promise.all([page.waitForNavigation(), page.locator('#go').click()]);
    evil.close();
    assert.equal(response.status(), 403);
    assert.match(await page.locator('#message').innerText(), /cross-site request refused: the Origin/);
    const noToken = await page.request.post(`${url}/redrive`, {
      headers: { origin: url }, form: { arn: stillFailed.executionArn },
    });
    assert.equal(noToken.status(), 403);
    assert.match(await noToken.text(), /token is missing or wrong/);
    const after = await sfn(api.endpoint, 'AWSStepFunctions.DescribeExecution', { executionArn: stillFailed.executionArn });
    assert.equal(after.redriveCount, 0, 'the refused POSTs redrove nothing');
    assert.deepEqual(errors, [], 'no script error on any page');
    console.log(`console browser test: ok (${wouldRedrive.length} redriven; screenshots in docs/)`);
  } finally {
    await context.close();
  }
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
