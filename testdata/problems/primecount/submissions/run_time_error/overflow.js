// Recurses once per number: the stack overflows on every test.
const n = Number(require("fs").readFileSync(0, "utf8"));
function count(k) {
    if (k < 2) return 0;
    let prime = true;
    for (let d = 2; d * d <= k; d++) if (k % d === 0) { prime = false; break; }
    return count(k - 1) + (prime ? 1 : 0) + (k === 2 ? recurseForever(0) : 0);
}
function recurseForever(x) { return recurseForever(x + 1) + 1; }
console.log(count(n));
