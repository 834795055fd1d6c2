// AceJudge's warm start for Node.js programs: run by `node [flags] -e` before
// the program exists, in the program's own sandbox. It waits for one line on
// the descriptor named by ACEJUDGE_START_FD (the entry file, relative to the
// box), then runs that file as `node [flags] FILE` would: the main module
// (require.main), process.argv == [node, absolute FILE], process.execArgv
// without this bootstrap, the same output and exit status.
(() => {
  const fs = require('node:fs');
  const fd = Number(process.env.ACEJUDGE_START_FD);
  delete process.env.ACEJUDGE_START_FD;
  const buffer = Buffer.alloc(4096);
  let line = '';
  while (!line.endsWith('\n')) {
    const n = fs.readSync(fd, buffer, 0, buffer.length, null);
    if (n === 0) break;
    line += buffer.toString('utf8', 0, n);
  }
  fs.closeSync(fd);
  const eval_at = process.execArgv.findIndex((a) => a === '-e' || a === '--eval');
  if (eval_at >= 0) process.execArgv.splice(eval_at, 2);
  process.argv.splice(1, process.argv.length - 1, require('node:path').resolve(line.trim()));
  require('node:module').runMain();
})();
