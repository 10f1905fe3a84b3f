// Drives the Palisade web console in headless Chromium, as a security engineer and an operator
// would: sign in, connect an account through the wizard, watch the baseline scan finish, find
// the failing findings, suppress one, upload a policy module, and check that a reader sees no
// admin control. Screenshots of the main pages go to the folder given.
//
// node console.mjs BASE_URL ADMIN_TOKEN READER_TOKEN ACCOUNT_ID ROLE_ARN MODULE_WASM SHOTS_DIR
// Exits non-zero, naming the step, when anything is not as expected.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, admin, reader, accountId, roleArn, wasm, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: console.mjs BASE ADMIN READER ACCOUNT_ID ROLE_ARN WASM SHOTS');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

function check(ok, what) {
  if (!ok) throw new Error(`expected: ${what}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function signIn(context, token) {
  const page = await context.newPage();
  await page.goto(`${base}/findings`);
  check(page.url().endsWith('/login'), 'signed out, the console asks to sign in');
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL('**/findings'), page.click('form[action="/login"] button')]);
  return page;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await signIn(context, admin);
  await shot(page, '01-findings-empty');

  // Connect an account: details, then the role step, then Save source.
  await page.click('nav >> text=Accounts');
  await page.click('text=Connect an account');
  await page.fill('input[name=name]', 'browser');
  await page.fill('input[name=account_id]', accountId);
  await page.fill('input[name=excluded_resource_types]', 'AWS.EC2.AMI');
  await page.click('button[value=continue]');
  check(await page.isVisible('text=Download the CloudFormation template'), 'the role step offers the template');
  await shot(page, '02-connect-role-step');
  await page.fill('input[name=role_arn]', roleArn);
  await Promise.all([page.waitForURL('**/accounts/browser'), page.click('button[value=save]')]);
  // The account page refreshes itself until the baseline scan is done.
  await page.waitForSelector('text=Baseline scan: finished', { timeout: 180_000 });
  check(await page.isVisible('text=Finish setup'), 'the real-time set-up is offered after the scan');
  await shot(page, '03-account-scanned');

  // The failing findings appear; open the SSH one and suppress it.
  await page.goto(`${base}/findings?account=${accountId}&status=fail`);
  // The findings list (not the by-rule table): rows whose status links to the finding.
  const row = page
    .locator('tr', { hasText: 'AWS.SecurityGroup.AdministrativeIngress' })
    .filter({ has: page.locator('a', { hasText: /^fail$/ }) })
    .first();
  check(await row.count() > 0, 'the open SSH group fails AdministrativeIngress');
  await shot(page, '04-findings-failing');
  await row.locator('a', { hasText: /^fail$/ }).click();
  await page.waitForURL(/\/finding\?/);
  check(await page.isVisible('text=Remediation.'), "the finding page shows the rule's remediation");
  await shot(page, '05-finding');
  await page.fill('input[name=reason]', 'bastion, reviewed');
  await Promise.all([page.waitForURL('**/resources/**'), page.click('text=Suppress for this resource')]);
  const suppressed = page.locator('tr', { hasText: 'AWS.SecurityGroup.AdministrativeIngress' }).first();
  check((await suppressed.textContent()).includes('suppressed'), 'the finding is now suppressed');
  await shot(page, '06-resource');

  // Upload a policy module from the file picker; its rules serve.
  await page.goto(`${base}/modules`);
  await page.fill('input[name=name]', 'browser-pack');
  await page.setInputFiles('input[name=module]', wasm);
  await Promise.all([page.waitForURL('**/modules'), page.click('form[action="/modules"] button')]);
  check(await page.isVisible('text=Hot.Bucket.Named'), "the uploaded module's rule is listed");
  await shot(page, '07-modules');
  await page.goto(`${base}/rules`);
  check(await page.isVisible('text=Hot.Bucket.Named'), 'the new rule is on the rules page');
  await shot(page, '08-rules');

  // A reader sees the pages and no admin control.
  const readerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const readerPage = await signIn(readerContext, reader);
  for (const path of ['/findings', '/rules', '/accounts', '/modules', '/accounts/browser']) {
    await readerPage.goto(`${base}${path}`);
    const html = await readerPage.content();
    for (const control of ['Switch off', 'Scan now', 'Upload', 'Connect an account', 'Suppress for this resource', 'Roll back']) {
      check(!html.includes(control), `a reader sees no "${control}" on ${path}`);
    }
  }
  await shot(readerPage, '09-reader-rules');
  console.log(`console walk-through passed; screenshots in ${shots}`);
} catch (e) {
  console.error(`console walk-through failed: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
