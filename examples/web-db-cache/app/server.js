// Answers /health and counts visits in Redis-free memory: enough to see the stack run.
const http = require('node:http');
let visits = 0;
http
  .createServer((req, res) => {
    if (req.url === '/health') return res.end('ok\n');
    visits++;
    res.end(`hello from the shop (${visits} visits)\n`);
  })
  .listen(8080);
