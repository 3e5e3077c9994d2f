// An ordinary accepted solution: sum the integers on stdin (Node's own
// threads: libuv's pool and V8's platform workers run alongside).
const data = require("fs").readFileSync(0, "utf8");
let total = 0n;
for (const word of data.split(/\s+/)) if (word) total += BigInt(word);
console.log(total.toString());
