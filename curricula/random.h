// Portable deterministic randomness and hashing for task generators.
//
// The generators must give the same task for the same (family, split, index,
// difficulty, seed) on every machine and standard library, so they use these
// instead of <random>'s distributions, whose outputs the standard leaves to
// each implementation.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace ponder {

// 64-bit FNV-1a of `bytes`. Stable forever: held-out splits (words, problem
// keys) are defined by it, so changing it would move items between splits.
inline uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// The splitmix64 finaliser: a bijection that scatters nearby inputs.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// splitmix64 generator. Seeded from several integers so that each task gets
// its own stream without the streams of neighbouring indices correlating.
class Rng {
 public:
  explicit Rng(std::initializer_list<uint64_t> seeds) {
    for (uint64_t s : seeds) state_ = mix64(state_ ^ s);
  }

  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ull;
    return mix64(state_);
  }

  // Uniform in [0, n), n > 0. Rejection removes the modulo bias.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x = next();
    while (x >= limit) x = next();
    return x % n;
  }

  // Uniform in [lo, hi], lo <= hi.
  int64_t range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // True with probability numerator / denominator.
  bool chance(uint64_t numerator, uint64_t denominator) { return below(denominator) < numerator; }

  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }
  template <typename T, std::size_t N>
  const T& pick(const T (&items)[N]) {
    return items[below(N)];
  }

 private:
  uint64_t state_ = 0;
};

}  // namespace ponder
