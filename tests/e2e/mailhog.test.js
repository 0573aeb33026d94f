// The npm `mailhog` client (v4), unchanged, against a running `pat serve`: it sends mail over
// SMTP, then reads, searches, decodes, releases and deletes it through Pat's MailHog API.
// Environment: PAT_HTTP_PORT and PAT_SMTP_PORT. Exit status 0 when every check passes.
'use strict'

const assert = require('assert')
const mailhog = require('mailhog')({ host: '127.0.0.1', port: Number(process.env.PAT_HTTP_PORT) })
const { sendMail } = require('./smtp')

const smtpPort = Number(process.env.PAT_SMTP_PORT)

const csv = 'id,name\r\n1,Grüße\r\n'
const report = [
  'From: Sender <sender@example.com>',
  'To: Recipient <rcpt@example.org>',
  'Cc: copy@example.org',
  'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from Pat',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Gr=C3=BC=C3=9Fe, the report is attached.',
  '--b1',
  'Content-Type: text/html; charset=utf-8',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('<p><b>Grüße</b>, the report is attached.</p>').toString('base64'),
  '--b1',
  'Content-Type: text/csv; charset=utf-8',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="report.csv"',
  '',
  Buffer.from(csv).toString('base64'),
  '--b1--',
  ''
].join('\n')

async function main() {
  let res = await mailhog.deleteAll()
  assert.strictEqual(res.statusCode, 200)

  await sendMail(smtpPort, 'sender@example.com', ['rcpt@example.org', 'copy@example.org'], report)
  await sendMail(smtpPort, 'other@example.com', ['other@example.org'], 'From: other@example.com\nTo: other@example.org\nSubject: plain\nContent-Type: text/plain; charset=utf-8\n\nJust text.\n')

  let result = await mailhog.messages()
  assert.strictEqual(result.total, 2)
  assert.strictEqual(result.count, 2)
  assert.strictEqual(result.start, 0)
  assert.strictEqual(result.items[0].subject, 'plain') // newest first
  assert.strictEqual(result.items[0].text, 'Just text.\r\n')

  result = await mailhog.messages(1, 1)
  assert.strictEqual(result.count, 1)
  assert.strictEqual(result.start, 1)
  const id = result.items[0].ID

  const mail = await mailhog.latestTo('rcpt@example.org')
  assert.ok(mail, 'latestTo found the report')
  assert.strictEqual(mail.ID, id)
  assert.strictEqual(mail.subject, 'Grüße from Pat')
  assert.strictEqual(mail.from, 'Sender <sender@example.com>')
  assert.strictEqual(mail.to, 'Recipient <rcpt@example.org>')
  assert.strictEqual(mail.cc, 'copy@example.org')
  assert.strictEqual(mail.text, 'Grüße, the report is attached.')
  assert.strictEqual(mail.html, '<p><b>Grüße</b>, the report is attached.</p>')
  assert.strictEqual(mail.attachments.length, 1)
  assert.strictEqual(mail.attachments[0].name, 'report.csv')
  assert.strictEqual(mail.attachments[0].type, 'text/csv; charset=utf-8')
  assert.strictEqual(mailhog.decode(mail.attachments[0].Body, mail.attachments[0].encoding, 'utf-8'), csv)
  assert.ok(mail.deliveryDate instanceof Date && !isNaN(mail.deliveryDate))

  assert.strictEqual((await mailhog.latestFrom('SENDER@example')).ID, id)
  assert.strictEqual((await mailhog.latestContaining('report is attached')).ID, id)
  assert.strictEqual(await mailhog.latestContaining('words nobody wrote'), 0)
  result = await mailhog.search('example.org', 'to')
  assert.strictEqual(result.total, 2)

  res = await mailhog.releaseMessage(id, { host: '127.0.0.1', port: String(smtpPort), email: 'released@example.net' })
  assert.strictEqual(res.statusCode, 200)
  const released = await mailhog.latestTo('released@example.net')
  assert.ok(released, 'the released message arrived')
  assert.strictEqual(released.subject, 'Grüße from Pat')

  res = await mailhog.deleteMessage(id)
  assert.strictEqual(res.statusCode, 200)
  result = await mailhog.messages()
  assert.strictEqual(result.total, 2)
  assert.ok(result.items.every(m => m.ID !== id))

  res = await mailhog.deleteAll()
  assert.strictEqual(res.statusCode, 200)
  result = await mailhog.messages()
  assert.strictEqual(result.count, 0)
  console.log('mailhog client: all checks passed')
}

main().catch(error => {
  console.error(error)
  process.exit(1)
})
