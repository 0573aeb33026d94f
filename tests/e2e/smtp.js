// The small SMTP client of the end-to-end scripts (node's `net`): one message per connection,
// replies checked by their first digit. Required as ./smtp from the directory the scripts run
// in (the C tests copy it there with the script).
'use strict'

const net = require('net')

// The message with CRLF line ends, ending with one (no line may start with '.').
function crlf(data) {
  const text = data.replace(/\r?\n/g, '\r\n')
  return text.endsWith('\r\n') ? text : text + '\r\n'
}

// Send data from `from` to every address of `to` through 127.0.0.1:port; resolves when the
// server has accepted it and said goodbye, rejects on any other reply.
function sendMail(port, from, to, data) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const steps = [
      [null, '2'],
      ['EHLO e2e.test', '2'],
      [`MAIL FROM:<${from}>`, '2'],
      ...to.map(r => [`RCPT TO:<${r}>`, '2']),
      ['DATA', '3'],
      [crlf(data) + '.', '2'],
      ['QUIT', '2']
    ]
    let buffer = ''
    let step = 0
    socket.setEncoding('utf8')
    socket.on('error', reject)
    socket.on('data', chunk => {
      buffer += chunk
      let end
      while ((end = buffer.search(/^\d{3} .*\r\n/m)) !== -1) {
        const lineEnd = buffer.indexOf('\r\n', end)
        const reply = buffer.slice(end, lineEnd)
        buffer = buffer.slice(lineEnd + 2)
        if (reply[0] !== steps[step][1]) return reject(new Error(`SMTP: ${reply}`))
        step++
        if (step === steps.length) {
          socket.end()
          return resolve()
        }
        socket.write(steps[step][0] + '\r\n')
      }
    })
  })
}

module.exports = { crlf, sendMail }
