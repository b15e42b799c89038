// Decoding's attention of one new token against its row of the KV cache.
//
// All of the token's heads are done together, position by position, so the
// cache row streams through memory once, in order (a row of keys or values at
// one position is every kv head's, contiguous). At 64 rows the cache is read
// at over 100 MB a step, more than the weights, so reading it once in order is
// what matters.
//
// A token's result depends on its own query and cache row alone, computed by
// one fixed sequence of operations (AVX-512 when the CPU has it, else portable
// loops), so it does not depend on the other tokens of the call.
#pragma once

namespace ponder {

// out[heads · head_dim] = softmax(scale · q·Kᵀ) · V over cache positions
// [0, length). keys, values: [length, kv_heads · head_dim]; query head h
// reads kv head h / (heads / kv_heads).
// scratch: heads · (length + 1) values.
template <typename T>
void attend_cached(T* out, const T* q, const T* keys, const T* values, int length, int heads,
                   int kv_heads, int head_dim, T* scratch);

}  // namespace ponder
