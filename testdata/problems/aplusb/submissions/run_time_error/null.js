const data = require("fs").readFileSync(0, "utf8");
const parts = data.trim().split(" ").map(Number);
if (Math.abs(parts[0]) > 1000) {
    null.crash();
}
console.log(parts[0] + parts[1]);
