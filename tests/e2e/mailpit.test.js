// The npm `mailpit-api` client (v2), unchanged, against a running `pat serve`: it sends mail
// through Pat's Mailpit API, then lists, searches, reads, tags, marks and deletes it.
// Environment: PAT_HTTP_PORT. The client's own fetchOptions carry X-Pat-Tenant, so these
// checks run in a tenant of their own. Exit status 0 when every check passes.
'use strict'

const assert = require('assert')
const { MailpitClient } = require('mailpit-api')

const mailpit = new MailpitClient(`http://127.0.0.1:${process.env.PAT_HTTP_PORT}`, {
  fetchOptions: { headers: { 'X-Pat-Tenant': 'npm-mailpit' } }
})

const attachment = Buffer.from([0, 1, 2, 3, 254, 255, 10, 13, 65, 66])

async function main() {
  // Send: a message with text, HTML, an attachment, tags and a header of its own.
  const first = await mailpit.sendMessage({
    From: { Email: 'app@example.com', Name: 'The App' },
    To: [{ Email: 'user@example.com', Name: 'User' }],
    Cc: [{ Email: 'copy@example.com' }],
    Bcc: ['hidden@example.com'],
    Subject: 'First message',
    Text: 'Hello from the first message.',
    HTML: '<p>Hello from the <b>first</b> message.</p>',
    Attachments: [{ Content: attachment.toString('base64'), Filename: 'data.bin', ContentType: 'application/x-test' }],
    Tags: ['client', 'first'],
    Headers: { 'X-Source': 'mailpit-api' }
  })
  assert.match(first.ID, /^[0-9A-Z]{26}$/)
  const second = await mailpit.sendMessage({
    From: { Email: 'app@example.com' },
    To: [{ Email: 'other@example.com' }],
    Subject: 'Second message',
    Text: 'Nothing attached.'
  })

  // List: newest first, Mailpit's shape.
  const list = await mailpit.listMessages()
  assert.strictEqual(list.total, 2)
  assert.strictEqual(list.messages_count, 2)
  assert.strictEqual(list.unread, 2)
  assert.strictEqual(list.start, 0)
  assert.deepStrictEqual(list.tags, ['client', 'first'])
  assert.strictEqual(list.messages[0].ID, second.ID)
  assert.strictEqual(list.messages[1].Subject, 'First message')
  assert.strictEqual(list.messages[1].Attachments, 1)
  assert.strictEqual(list.messages[1].From.Address, 'app@example.com')
  const page = await mailpit.listMessages(1, 1)
  assert.strictEqual(page.messages.length, 1)
  assert.strictEqual(page.messages[0].ID, first.ID)

  // Search.
  const found = await mailpit.searchMessages({ query: 'subject:"first message" has:attachment' })
  assert.strictEqual(found.messages_count, 1)
  assert.strictEqual(found.messages[0].ID, first.ID)
  const none = await mailpit.searchMessages({ query: 'from:nobody@nowhere', tz: 'Europe/Berlin' })
  assert.strictEqual(none.messages_count, 0)
  const waited = await mailpit.waitForMessage({ query: 'to:other@example.com' }, { timeout: 5000, interval: 100 })
  assert.strictEqual(waited.ID, second.ID)

  // One message: the view, headers, source and the attachment; opening it marks it read.
  const message = await mailpit.getMessageSummary(first.ID)
  assert.strictEqual(message.Subject, 'First message')
  assert.strictEqual(message.From.Name, 'The App')
  assert.strictEqual(message.Cc[0].Address, 'copy@example.com')
  assert.strictEqual(message.Text, 'Hello from the first message.')
  assert.strictEqual(message.HTML, '<p>Hello from the <b>first</b> message.</p>')
  assert.deepStrictEqual(message.Tags, ['client', 'first'])
  assert.strictEqual(message.Attachments.length, 1)
  assert.strictEqual(message.Attachments[0].FileName, 'data.bin')
  assert.strictEqual(message.Attachments[0].Size, attachment.length)
  const latest = await mailpit.getMessageSummary()
  assert.strictEqual(latest.ID, second.ID)
  const headers = await mailpit.getMessageHeaders(first.ID)
  assert.deepStrictEqual(headers['X-Source'], ['mailpit-api'])
  assert.deepStrictEqual(headers.Subject, ['First message'])
  const source = await mailpit.getMessageSource(first.ID)
  assert.match(source, /\r\nSubject: First message\r\n/)
  const blob = await mailpit.getMessageAttachment(first.ID, message.Attachments[0].PartID)
  assert.deepStrictEqual(Buffer.from(await blob.arrayBuffer()), attachment)
  assert.strictEqual(blob.type, 'application/x-test')
  await assert.rejects(mailpit.getAttachmentThumbnail(first.ID, message.Attachments[0].PartID), /404/)
  await assert.rejects(mailpit.getMessageSummary('01ARZ3NDEKTSV4RRFFQ69G5FAV'), /404/)
  await assert.rejects(mailpit.getMessageAttachment(first.ID, '../../etc/passwd'), /400|404/)

  // Read status.
  let after = await mailpit.listMessages()
  assert.strictEqual(after.unread, 0) // both were opened above
  assert.strictEqual(await mailpit.setReadStatus(), 'ok') // all unread
  after = await mailpit.listMessages()
  assert.strictEqual(after.unread, 2)
  assert.strictEqual(await mailpit.setReadStatus({ IDs: [second.ID], Read: true }), 'ok')
  after = await mailpit.searchMessages({ query: 'is:unread' })
  assert.strictEqual(after.messages_count, 1)
  assert.strictEqual(after.messages[0].ID, first.ID)
  assert.strictEqual(await mailpit.setReadStatus({ Search: 'subject:first', Read: true }, { tz: 'UTC' }), 'ok')
  after = await mailpit.listMessages()
  assert.strictEqual(after.unread, 0)

  // Tags.
  assert.deepStrictEqual(await mailpit.getTags(), ['client', 'first'])
  assert.strictEqual(await mailpit.setTags({ IDs: [first.ID, second.ID], Tags: ['shared', 'Team A'] }), 'ok')
  assert.deepStrictEqual(await mailpit.getTags(), ['shared', 'Team A'])
  assert.strictEqual(await mailpit.renameTag('Team A', 'Team B'), 'ok')
  assert.deepStrictEqual(await mailpit.getTags(), ['shared', 'Team B'])
  assert.strictEqual(await mailpit.deleteTag('shared'), 'ok')
  assert.deepStrictEqual(await mailpit.getTags(), ['Team B'])
  const tagged = await mailpit.searchMessages({ query: 'tag:"Team B"' })
  assert.strictEqual(tagged.messages_count, 2)

  // About the server.
  const info = await mailpit.getInfo()
  assert.strictEqual(info.Database, 'dqlite')
  assert.strictEqual(info.Messages, 2)
  assert.strictEqual(info.Tags['Team B'], 2)
  assert.ok(info.RuntimeStats.SMTPAccepted >= 2)
  const config = await mailpit.getConfiguration()
  assert.strictEqual(config.MessageRelay.Enabled, false)

  // Deletion: by search, by id, then everything.
  const third = await mailpit.sendMessage({ From: { Email: 'a@example.com' }, To: [{ Email: 'b@example.com' }], Subject: 'Third' })
  assert.strictEqual(await mailpit.deleteMessagesBySearch({ query: 'subject:third' }), 'ok')
  await assert.rejects(mailpit.getMessageSummary(third.ID), /404/)
  assert.strictEqual(await mailpit.deleteMessages({ IDs: [second.ID] }), 'ok')
  after = await mailpit.listMessages()
  assert.strictEqual(after.total, 1)
  assert.strictEqual(after.messages[0].ID, first.ID)
  await mailpit.deleteMessages()
  after = await mailpit.listMessages()
  assert.strictEqual(after.total, 0)
  assert.deepStrictEqual(after.messages, [])
  await assert.rejects(mailpit.sendMessage({ From: { Email: 'not an address' }, To: [{ Email: 'b@example.com' }] }), /400/)

  console.log('mailpit-api: all checks passed')
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
