// Encoding throughput of ponder's tokenizer on one thread, the way a data
// loader uses it: every line of a text file is a document, encoded on its own.
// Prints MB/s (best of --repeats) and, last, one JSON line. bench/tokenizer
// runs it beside Hugging Face `tokenizers` on the same file and vocabulary.
//
//   bench_tokenizer TOKENIZER_DIR CORPUS_FILE [REPEATS]
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "policy/error.h"
#include "policy/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: bench_tokenizer TOKENIZER_DIR CORPUS_FILE [REPEATS]\n");
    return 2;
  }
  try {
    const ponder::Tokenizer tokenizer = ponder::Tokenizer::load(argv[1]);
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) throw ponder::Error(fmt::format("corpus `{}` not found", argv[2]));
    std::vector<std::string> lines;
    uint64_t bytes = 0;
    for (std::string line; std::getline(in, line);) {
      line += '\n';
      bytes += line.size();
      lines.push_back(std::move(line));
    }
    const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
    double best = 1e30;
    uint64_t tokens = 0;
    std::vector<ponder::TokenId> ids;
    for (int r = 0; r < repeats; ++r) {
      tokens = 0;
      const auto start = std::chrono::steady_clock::now();
      for (const auto& line : lines) {
        ids.clear();
        tokenizer.encode_append(line, ids);
        tokens += ids.size();
      }
      best = std::min(
          best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    const double mb_per_s = bytes / 1e6 / best;
    fmt::print(
        "ponder encode: {:.2f} MB in {:.3f} s = {:.2f} MB/s, {} tokens ({:.2f} bytes/token), "
        "vocab {}\n",
        bytes / 1e6, best, mb_per_s, tokens, static_cast<double>(bytes) / tokens,
        tokenizer.vocab_size());
    fmt::print(
        "{{\"bytes\": {}, \"tokens\": {}, \"seconds\": {:.4f}, \"mb_per_s\": {:.3f}, "
        "\"vocab_size\": {}}}\n",
        bytes, tokens, best, mb_per_s, tokenizer.vocab_size());
  } catch (const ponder::Error& e) {
    fmt::print(stderr, "bench_tokenizer: {}\n", e.what());
    return 1;
  }
  return 0;
}
