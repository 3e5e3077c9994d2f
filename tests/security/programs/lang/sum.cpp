// An ordinary accepted solution: sum the integers on stdin, with two threads.
#include <iostream>
#include <thread>
#include <vector>

int main() {
    std::ios::sync_with_stdio(false);
    std::vector<long long> values;
    long long v;
    while (std::cin >> v) values.push_back(v);
    long long partial[2] = {0, 0};
    auto add_half = [&](int half) {
        for (size_t i = half; i < values.size(); i += 2) partial[half] += values[i];
    };
    std::thread worker(add_half, 1);
    add_half(0);
    worker.join();
    std::cout << partial[0] + partial[1] << "\n";
}
