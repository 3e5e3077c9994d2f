// Output validator for Distinct Pair: any distinct positive a, b with a+b=n.
// Usage: validator input answer feedback_dir < team_output (exit 42 AC, 43 WA)
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

static std::string feedback_dir;

[[noreturn]] static void verdict(int code, const std::string& message) {
    std::ofstream(feedback_dir + "judgemessage.txt") << message << "\n";
    std::exit(code);
}

static bool parse(const std::string& token, unsigned long long& value) {
    if (token.empty() || token.size() > 19 || token[0] == '0') return false;
    for (char c : token) if (c < '0' || c > '9') return false;
    value = std::stoull(token);
    return true;
}

int main(int argc, char** argv) {
    if (argc < 4) return 1;
    feedback_dir = argv[3];
    std::ifstream input(argv[1]), answer(argv[2]);
    unsigned long long n;
    std::string judge;
    if (!(input >> n) || !(answer >> judge)) return 1;   // a broken test: judge error
    std::string first, second, extra;
    if (!(std::cin >> first)) verdict(43, "empty output");
    if (first == "impossible") {
        if (judge != "impossible") verdict(43, "claims impossible, but a pair exists");
        if (std::cin >> extra) verdict(43, "trailing output after impossible");
        verdict(42, "correctly impossible");
    }
    if (!(std::cin >> second)) verdict(43, "expected two numbers");
    if (std::cin >> extra) verdict(43, "trailing output: " + extra);
    unsigned long long a, b;
    if (!parse(first, a) || !parse(second, b)) verdict(43, "not positive integers: " + first + " " + second);
    if (judge == "impossible") verdict(43, "found a pair where the judge has none (validator bug?)");
    if (a == b) verdict(43, "the two numbers are equal");
    if (a > n || b > n || a + b != n) {
        std::ostringstream msg;
        msg << first << " + " << second << " is not " << n;
        verdict(43, msg.str());
    }
    verdict(42, "ok");
}
