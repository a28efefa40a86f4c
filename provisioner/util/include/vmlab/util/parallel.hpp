#pragma once
// Bounded parallelism for the engine: f(i) for every i in [0, count) on up to `jobs` threads.
// f must not throw; callers catch per item so one failure never stops the others.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace vmlab::detail {

template <class F>
void parallel_for(std::size_t count, unsigned jobs, F f) {
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t i = next++; i < count; i = next++) f(i);
    };
    const std::size_t threads = std::max<std::size_t>(1, std::min<std::size_t>(jobs, count));
    if (threads == 1) return worker();
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
}

}  // namespace vmlab::detail
