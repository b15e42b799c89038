// The generated families' problem makers, used by TaskGenerator
// (curricula/generator.h). Each fills task.prompt, answer, metadata and
// difficulty (the requested one clamped to the family's maximum) with a
// problem of `split`, drawing only from `rng`. Problems are keyed so that the
// splits cannot share one (curricula/task.h says how, per family).
#pragma once

#include "curricula/random.h"
#include "curricula/task.h"
#include "curricula/words.h"

namespace ponder {

inline constexpr int kArithMaxDifficulty = 6;
inline constexpr int kCountMaxDifficulty = 5;
inline constexpr int kWordprobMaxDifficulty = 3;
inline constexpr int kLookupMaxDifficulty = 2;
inline constexpr int kCountdownMaxDifficulty = 4;

// Difficulty d: operand digits and operations grow from 1-2 digits and one
// + or - (d = 1) to 5-6 digits and 3-4 operations of +, -, * (d = 6).
void make_arith_task(Split split, int difficulty, Rng& rng, Task& task);

// Difficulty d: word length 3-5 (d = 1), 6-8, 9-11, 12-14, 15 or more (d = 5);
// list questions hold 2d + 2 to 2d + 4 items.
void make_count_task(const WordList& words, Split split, int difficulty, Rng& rng, Task& task);

// Difficulty d: two-step problems with numbers up to about 12 (d = 1); every
// template, numbers up to about 60 (d = 2) or 500 (d = 3).
void make_wordprob_task(Split split, int difficulty, Rng& rng, Task& task);

// Difficulty d: d + 2 numbers, of which the solution uses 2 to d + 2.
void make_countdown_task(Split split, int difficulty, Rng& rng, Task& task);

}  // namespace ponder
