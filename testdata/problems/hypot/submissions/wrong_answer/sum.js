// Adds the legs instead: right only when one of them is zero.
const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\s+/).map(Number);
console.log((a + b).toFixed(9));
