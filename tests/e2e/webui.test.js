// The web UI in a real browser (Debian's Chromium, driven by playwright-core) against a running
// `pat serve`: mail sent over SMTP appears in the list live, opens in every tab (its HTML styled
// as its own <style> says, its cid: image shown, its script not run), downloads its
// attachment, is found by search, stays in its tenant and is deleted, once through Mailpit's API
// and once through MailHog's (the UI's fallback). Deletions by other clients leave the open page
// live (one, and all), closing the open message; after the event stream drops, the page
// connects again and catches up. The page must load nothing from another origin and must carry
// its Content-Security-Policy.
// Environment: PAT_HTTP_PORT, PAT_SMTP_PORT, PAT_OTHER_DOMAIN (a recipient domain that
// belongs to tenant PAT_OTHER_TENANT), CHROMIUM (default /usr/bin/chromium).
// Exit status 0 when every check passes.
'use strict'

const assert = require('assert')
const fs = require('fs')
const http = require('http')
const { chromium } = require('playwright-core')
const { sendMail } = require('./smtp')

const httpPort = Number(process.env.PAT_HTTP_PORT)
const smtpPort = Number(process.env.PAT_SMTP_PORT)
const otherDomain = process.env.PAT_OTHER_DOMAIN || 'other.test'
const otherTenant = process.env.PAT_OTHER_TENANT || 'other-team'
const base = `http://127.0.0.1:${httpPort}`
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
const TIMEOUT = 20000
// A 1x1 PNG, the inline image of the HTML part.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='

const csv = 'id,name\r\n1,Grüße\r\n2,Pat\r\n'
const welcome = [
  'From: Alice Example <alice@example.com>',
  'To: Bob <bob@example.org>',
  'Subject: =?UTF-8?Q?Welcome_to_Pat_=E2=9C=93?=',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="mixed-b0undary"',
  '',
  '--mixed-b0undary',
  'Content-Type: multipart/alternative; boundary="alt-b0undary"',
  '',
  '--alt-b0undary',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'This is the plain text part, with an =C3=BCmlaut.',
  '--alt-b0undary',
  'Content-Type: multipart/related; boundary="rel-b0undary"',
  '',
  '--rel-b0undary',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<html><head><title>t</title>',
  '<style>#greeting { color: rgb(1, 2, 3) } .boxed { background-image: url(TRAP/bg.png) }</style>',
  '</head><body>',
  '<h1 id="greeting">Hello from the HTML part</h1>',
  '<p id="styled" class="boxed" style="font-weight: 700">styled by its attribute</p>',
  '<img id="logo" src="cid:logo@pat.test" alt="logo">',
  '<p id="script-target">static</p>',
  '<script>document.getElementById("script-target").textContent = "script ran"</script>',
  '<link rel="stylesheet" href="TRAP/style.css">',
  '<img id="remote" src="TRAP/track.png" alt="remote">',
  '</body></html>',
  '--rel-b0undary',
  'Content-Type: image/png',
  'Content-ID: <logo@pat.test>',
  'Content-Disposition: inline; filename="logo.png"',
  'Content-Transfer-Encoding: base64',
  '',
  PNG,
  '--rel-b0undary--',
  '--alt-b0undary--',
  '--mixed-b0undary',
  'Content-Type: text/csv; name="report.csv"',
  'Content-Disposition: attachment; filename="report.csv"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from(csv).toString('base64'),
  '--mixed-b0undary--'
].join('\n')
const welcomeSubject = 'Welcome to Pat ✓'

const invoice = [
  'From: billing@example.net',
  'To: bob@example.org',
  'Subject: Invoice 42',
  '',
  'Please pay invoice 42.'
].join('\n')

let step = 'start'
const check = name => {
  step = name
  console.log(`- ${name}`)
}

// Another origin, which the page and the message's HTML try to load from: it must see nothing.
function startTrap() {
  const hits = []
  const server = http.createServer((req, res) => {
    hits.push(req.url)
    res.end('')
  })
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve({ server, hits })))
}

// The whole scenario in one dialect of the UI's data layer: 'mailpit' (the server's Mailpit
// API, which Pat serves) or 'mailhog' (the fallback, forced by making /api/v1/info answer 404).
// It starts and ends with empty mailboxes.
async function scenario(browser, trapOrigin, dialect) {
  const context = await browser.newContext({ acceptDownloads: true })
  context.setDefaultTimeout(TIMEOUT)
  if (dialect === 'mailhog')
    await context.route('**/api/v1/info', route =>
      route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"no such endpoint"}' })
    )
  const page = await context.newPage()
  const foreign = new Map() // request to another origin → how it ended
  const apiRequests = []
  const pageErrors = []
  context.on('request', r => {
    const url = r.url()
    if (/^(data|blob|about):/.test(url)) return
    if (new URL(url).origin !== base) foreign.set(r, 'sent')
    if (new URL(url).pathname.startsWith('/api/')) apiRequests.push({ url, path: new URL(url).pathname, headers: r.headers() })
  })
  // Chromium reports a request that its Content-Security-Policy refused as a failed request.
  context.on('requestfailed', r => {
    if (foreign.has(r)) foreign.set(r, r.failure() ? r.failure().errorText : 'failed')
  })
  page.on('pageerror', e => pageErrors.push(e.message))
  // The UI's event streams pass through here, so that the test can drop one and lose the
  // events it would carry (as when the server restarts).
  const streams = []
  await context.routeWebSocket(/\/api\/v3\/events(\?|$)/, ws => {
    const stream = { url: ws.url(), ws, muted: false }
    const server = ws.connectToServer()
    server.onMessage(m => {
      if (!stream.muted) ws.send(m)
    })
    streams.push(stream)
  })
  const mailpit = dialect === 'mailpit'
  const api = (method, path, options = {}) =>
    fetch(base + path, { method, ...options }).then(r => {
      assert.strictEqual(r.status, 200, `${method} ${path}`)
      return r
    })
  const idOf = subject => item(subject).getAttribute('data-id')
  const open = async subject => {
    await item(subject).locator('button').click()
    await page.waitForFunction(s => document.getElementById('v-subject').textContent === s, subject)
  }
  const closedWith = text =>
    page.waitForFunction(
      t => document.getElementById('view').hidden && document.getElementById('status').textContent === t,
      text
    )
  const requested = re => apiRequests.some(r => re.test(r.path))

  const items = page.locator('#messages li')
  const item = text => page.locator('#messages li', { hasText: text })

  check('the page loads with its security headers')
  const res = await page.goto(base + '/')
  assert.strictEqual(res.status(), 200)
  assert.strictEqual(res.headers()['content-security-policy'], CSP)
  assert.strictEqual(res.headers()['x-content-type-options'], 'nosniff')
  assert.strictEqual(res.headers()['referrer-policy'], 'no-referrer')
  await page.waitForSelector('body[data-ready="true"]')
  assert.strictEqual(await page.textContent('#dialect'), mailpit ? 'Mailpit API' : 'MailHog API')
  await page.waitForFunction(() => document.getElementById('live').classList.contains('on'))
  assert.strictEqual(await items.count(), 0)
  assert.match(await page.textContent('#count'), /^0 messages$/)
  assert.ok(requested(mailpit ? /^\/api\/v1\/messages$/ : /^\/api\/v2\/messages$/), 'the list came from the wrong API')
  await page.evaluate(() => {
    window.notReloaded = true
  })

  check('a message sent over SMTP appears live')
  await sendMail(smtpPort, 'alice@example.com', ['bob@example.org'], welcome.replace(/TRAP/g, trapOrigin))
  await item(welcomeSubject).waitFor()
  assert.ok(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded')
  assert.match(await item(welcomeSubject).textContent(), /Alice Example/)
  const unread = () => item(welcomeSubject).locator('button.unread').count()
  if (mailpit) {
    assert.strictEqual(await unread(), 1, 'a new message is not shown unread')
    assert.match(await page.textContent('#count'), /^1 message, 1 unread$/)
  } else {
    assert.strictEqual(await unread(), 0, 'MailHog has no read state')
  }

  check('the message opens; its HTML is in a sandboxed frame')
  await item(welcomeSubject).locator('button').click()
  await page.waitForFunction(s => document.getElementById('v-subject').textContent === s, welcomeSubject)
  assert.ok(requested(mailpit ? /^\/api\/v1\/message\/[0-9A-Z]{26}$/ : /^\/api\/v1\/messages\/[0-9A-Z]{26}$/))
  if (mailpit) {
    await page.waitForFunction(() => !document.querySelector('#messages button.unread'))
    assert.match(await page.textContent('#count'), /^1 message$/)
  }
  const frameEl = page.locator('#html-frame')
  assert.strictEqual(await frameEl.getAttribute('sandbox'), '')
  assert.strictEqual(await frameEl.getAttribute('srcdoc'), null)
  const welcomeId = await idOf(welcomeSubject)
  assert.strictEqual(await frameEl.getAttribute('src'), `/api/v3/messages/${welcomeId}/html`)
  const frame = page.frameLocator('#html-frame')
  assert.strictEqual(await frame.locator('#greeting').textContent(), 'Hello from the HTML part')
  assert.strictEqual(await frame.locator('#script-target').textContent(), 'static', 'a script ran in the frame')

  check("the message's own styles apply in the frame, and its cid: image shows")
  const htmlFrame = page.frames().find(f => f.url() === `${base}/api/v3/messages/${welcomeId}/html`)
  assert.ok(htmlFrame, `no frame of the message's HTML among ${page.frames().map(f => f.url())}`)
  assert.strictEqual(await htmlFrame.locator('#greeting').evaluate(e => getComputedStyle(e).color), 'rgb(1, 2, 3)')
  assert.strictEqual(await htmlFrame.locator('#styled').evaluate(e => getComputedStyle(e).fontWeight), '700')
  assert.strictEqual(await htmlFrame.locator('#logo').getAttribute('src'), `data:image/png;base64,${PNG}`)
  assert.strictEqual(await htmlFrame.locator('#logo').evaluate(e => e.decode().then(() => e.naturalWidth)), 1)
  assert.strictEqual(await htmlFrame.locator('#remote').evaluate(e => e.naturalWidth), 0, 'a remote image loaded')

  check('the text tab (keyboard: arrow keys move between tabs)')
  await page.focus('#tab-html')
  await page.keyboard.press('ArrowRight')
  await page.waitForSelector('#panel-text:not([hidden])')
  assert.strictEqual(await page.evaluate(() => document.activeElement.id), 'tab-text')
  assert.match(await page.textContent('#text-body'), /This is the plain text part, with an ümlaut\./)

  check('the headers tab')
  await page.click('#tab-headers')
  await page.locator('#headers-table th', { hasText: /^Subject$/ }).waitFor()
  const subjectRow = page.locator('#headers-table tr', { has: page.locator('th', { hasText: /^Subject$/ }) })
  assert.strictEqual(await subjectRow.locator('td').textContent(), welcomeSubject)

  check('the raw tab')
  await page.click('#tab-raw')
  await page.waitForFunction(() => document.getElementById('raw-body').textContent.includes('--mixed-b0undary--'))
  assert.match(await page.textContent('#raw-body'), /Content-Type: multipart\/mixed; boundary="mixed-b0undary"/)

  check('the attachment downloads')
  await page.click('#tab-attachments')
  const button = page.locator('#attachments button', { hasText: 'report.csv' })
  const [download] = await Promise.all([page.waitForEvent('download'), button.click()])
  assert.strictEqual(download.suggestedFilename(), 'report.csv')
  assert.strictEqual(fs.readFileSync(await download.path(), 'utf8'), csv)
  assert.ok(requested(mailpit ? /^\/api\/v1\/message\/[0-9A-Z]{26}\/part\/[0-9.]+$/ : /\/mime\/part\/1\/download$/))

  check('search filters the list')
  await sendMail(smtpPort, 'billing@example.net', ['bob@example.org'], invoice)
  await item('Invoice 42').waitFor()
  assert.strictEqual(await items.count(), 2)
  const search = async (query, expect) => {
    await page.fill('#search', query)
    await page.press('#search', 'Enter')
    // The list shows exactly the expected messages, in order (the previous search's may linger).
    await page.waitForFunction(
      want => {
        const li = [...document.querySelectorAll('#messages li')]
        return li.length === want.length && want.every((text, i) => li[i].textContent.includes(text))
      },
      expect
    )
    assert.strictEqual(await page.textContent('#count'), `${expect.length} found`)
  }
  if (mailpit) {
    // Mailpit's syntax: fields, negation, has:
    await search('from:billing', ['Invoice 42'])
    await search('has:attachment', [welcomeSubject])
    await search('-subject:invoice bob', [welcomeSubject])
    assert.ok(requested(/^\/api\/v1\/search$/))
  } else {
    await search('invoice', ['Invoice 42'])
    await search('from:alice@example', [welcomeSubject])
    assert.ok(requested(/^\/api\/v2\/search$/))
  }
  await page.fill('#search', '')
  await page.waitForFunction(() => document.querySelectorAll('#messages li').length === 2)

  check('another tenant sees none of it, and gets its own mail live')
  const before = apiRequests.length
  await page.fill('#tenant', otherTenant)
  await page.press('#tenant', 'Enter')
  await page.waitForFunction(() => document.getElementById('count').textContent === '0 messages')
  assert.strictEqual(await items.count(), 0)
  await page.waitForFunction(() => document.getElementById('live').classList.contains('on'))
  const after = apiRequests.slice(before)
  const list = after.find(r => r.path === '/api/v2/messages' || r.path === '/api/v1/messages')
  assert.ok(list, 'no list request after the switch')
  assert.strictEqual(list.headers['x-pat-tenant'], otherTenant)
  assert.ok(streams.some(st => st.url.endsWith(`/api/v3/events?tenant=${otherTenant}`)), 'no event stream of the tenant')
  await sendMail(smtpPort, 'someone@example.com', [`team@${otherDomain}`], 'Subject: For the other team\n\nhello')
  await item('For the other team').waitFor()
  assert.strictEqual(await items.count(), 1)

  check('back to the default tenant')
  await page.fill('#tenant', '')
  await page.press('#tenant', 'Enter')
  await page.waitForFunction(() => document.querySelectorAll('#messages li').length === 2)
  assert.strictEqual(await item('For the other team').count(), 0)

  check('a message deleted by another client leaves the list live, and its open view closes')
  await page.waitForFunction(() => document.getElementById('live').classList.contains('on'))
  await sendMail(smtpPort, 'alice@example.com', ['bob@example.org'], 'Subject: Short-lived one\n\nsoon gone')
  await item('Short-lived one').waitFor()
  await page.waitForFunction(() => document.getElementById('count').textContent.startsWith('3 messages'))
  await open('Short-lived one')
  const shortId = await idOf('Short-lived one')
  if (mailpit)
    await api('DELETE', '/api/v1/messages', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ IDs: [shortId] }) })
  else await api('DELETE', `/api/v1/messages/${shortId}`)
  await closedWith('The open message was deleted.')
  await page.waitForFunction(() => document.getElementById('count').textContent.startsWith('2 messages'))
  assert.strictEqual(await item('Short-lived one').count(), 0)
  assert.strictEqual(await items.count(), 2)
  assert.ok(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded')
  // One that is not open, through Pat's API.
  await sendMail(smtpPort, 'alice@example.com', ['bob@example.org'], 'Subject: Short-lived two\n\nsoon gone')
  await item('Short-lived two').waitFor()
  await api('DELETE', `/api/v3/messages/${await idOf('Short-lived two')}`)
  await item('Short-lived two').waitFor({ state: 'detached' })
  await page.waitForFunction(() => document.getElementById('count').textContent.startsWith('2 messages'))

  check('after the event stream drops, the page connects again and catches up')
  await sendMail(smtpPort, 'alice@example.com', ['bob@example.org'], 'Subject: Short-lived three\n\nsoon gone')
  await item('Short-lived three').waitFor()
  await open('Short-lived three')
  const dropped = streams[streams.length - 1]
  const streamsBefore = streams.length
  dropped.muted = true // what the server announces from now on is lost
  await api('DELETE', `/api/v3/messages/${await idOf('Short-lived three')}`)
  await sendMail(smtpPort, 'carol@example.com', ['bob@example.org'], 'Subject: Arrived while away\n\nhello')
  await dropped.ws.close()
  await item('Arrived while away').waitFor()
  await closedWith('The open message was deleted.')
  assert.strictEqual(await item('Short-lived three').count(), 0)
  assert.ok(streams.length > streamsBefore, 'the stream was not opened again')
  await page.waitForFunction(() => document.getElementById('live').classList.contains('on'))
  assert.ok(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded')
  // The new stream carries events again.
  await api('DELETE', `/api/v3/messages/${await idOf('Arrived while away')}`)
  await item('Arrived while away').waitFor({ state: 'detached' })
  await page.waitForFunction(() => document.getElementById('count').textContent.startsWith('2 messages'))

  check('delete one message, after confirming (keyboard: Delete)')
  await item(welcomeSubject).locator('button').click()
  await page.waitForFunction(s => document.getElementById('v-subject').textContent === s, welcomeSubject)
  const id = await item(welcomeSubject).getAttribute('data-id')
  await page.click('#delete-one')
  await page.waitForSelector('#confirm[open]')
  await page.click('#confirm-cancel')
  await page.waitForSelector('#confirm', { state: 'hidden' })
  assert.strictEqual(await item(welcomeSubject).count(), 1, 'deleted without confirmation')
  await item(welcomeSubject).locator('button').focus()
  await page.keyboard.press('Delete')
  await page.waitForSelector('#confirm[open]')
  await page.click('#confirm-ok')
  await page.waitForFunction(() => document.querySelectorAll('#messages li').length === 1)
  assert.strictEqual(await item(welcomeSubject).count(), 0)
  const gone = await fetch(`${base}/api/v1/messages/${id}`)
  assert.strictEqual(gone.status, 404)

  check('delete-all by another client empties the open page and closes the open message')
  await open('Invoice 42')
  if (mailpit) await api('DELETE', '/api/v3/messages')
  else await api('DELETE', '/api/v1/messages') // MailHog's, without a body
  await closedWith('All messages were deleted, the open one too.')
  await page.waitForFunction(() => document.getElementById('count').textContent === '0 messages')
  assert.strictEqual(await items.count(), 0)
  await sendMail(smtpPort, 'billing@example.net', ['bob@example.org'], invoice)
  await item('Invoice 42').waitFor()

  check('delete all, after confirming')
  await page.click('#delete-all')
  await page.click('#confirm-ok')
  await page.waitForFunction(() => document.getElementById('count').textContent === '0 messages')
  const left = await (await fetch(`${base}/api/v2/messages`)).json()
  assert.strictEqual(left.total, 0)
  const other = await (await fetch(`${base}/api/v2/messages`, { headers: { 'X-Pat-Tenant': otherTenant } })).json()
  assert.strictEqual(other.total, 1, "the other tenant's mail was deleted too")
  await fetch(`${base}/api/v1/messages`, { method: 'DELETE', headers: { 'X-Pat-Tenant': otherTenant } })

  check('nothing was loaded from another origin, and no script failed')
  const unblocked = [...foreign].filter(([, how]) => !/^csp$|BLOCKED_BY_CSP/.test(how)).map(([r, how]) => `${r.url()}: ${how}`)
  assert.deepStrictEqual(unblocked, [])
  assert.deepStrictEqual(pageErrors, [])
  await context.close()
}

async function main() {
  const trap = await startTrap()
  const trapOrigin = `http://127.0.0.1:${trap.server.address().port}`
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true
  })
  for (const dialect of ['mailpit', 'mailhog']) {
    console.log(`${dialect}:`)
    await scenario(browser, trapOrigin, dialect)
  }
  await browser.close()
  assert.deepStrictEqual(trap.hits, [], 'another origin was reached')
  trap.server.close()
  console.log('all checks passed')
}

const watchdog = setTimeout(() => {
  console.error(`timed out at: ${step}`)
  process.exit(1)
}, 200000)

main().then(
  () => clearTimeout(watchdog),
  e => {
    console.error(`failed at: ${step}\n${e && e.stack ? e.stack : e}`)
    process.exit(1)
  }
)
