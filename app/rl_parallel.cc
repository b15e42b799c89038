#include "app/rl_parallel.h"

#include "app/records.h"

namespace ponder {

RoundVerdicts share_verdicts(Communicator& comm, std::span<const RolloutRecord> local, Slice rows,
                             int prompts, int group) {
  // One sum over ranks: every slot is written by one rank and is zero on
  // the others, so each value arrives unchanged (x + 0 = x).
  const size_t n = static_cast<size_t>(prompts) * group;
  std::vector<double> both(2 * n, 0.0);
  const size_t first = rows.begin * static_cast<size_t>(group);
  for (size_t i = 0; i < local.size(); ++i) {
    both[first + i] = local[i].reward;
    both[n + first + i] = local[i].correct ? 1.0 : 0.0;
  }
  comm.all_reduce_sum(both);
  RoundVerdicts out;
  out.rewards.assign(both.begin(), both.begin() + static_cast<std::ptrdiff_t>(n));
  for (size_t i = 0; i < n; ++i) out.correct.push_back(both[n + i] != 0);
  return out;
}

StepRollouts gather_rollouts(Communicator& comm, RankRollouts local) {
  StepRollouts out;
  for (size_t round = 0; round < local.rounds.size(); ++round) {
    const std::vector<std::string> records = comm.gather(encode_records(local.rounds[round]));
    const std::vector<double>& entropy = local.entropy[round];
    const std::vector<std::string> entropies = comm.gather(std::string(
        reinterpret_cast<const char*>(entropy.data()), entropy.size() * sizeof(double)));
    for (size_t r = 0; r < records.size(); ++r) {
      for (RolloutRecord& record : decode_records(records[r])) {
        out.records.push_back(std::move(record));
      }
      const size_t count = entropies[r].size() / sizeof(double);
      const auto* values = reinterpret_cast<const double*>(entropies[r].data());
      out.entropy.insert(out.entropy.end(), values, values + count);
    }
  }
  return out;
}

GrpoBatchTotals global_totals(Communicator& comm, std::span<const PolicySample> samples,
                              const GrpoConfig& config) {
  const GrpoBatchTotals local = grpo_batch_totals(samples, config);
  int64_t counts[2] = {local.sequences, local.tokens};
  comm.all_reduce_sum(counts);
  return {counts[0], counts[1]};
}

GrpoUpdateStats sum_over_ranks(Communicator& comm, const GrpoUpdateStats& local) {
  const auto tokens = static_cast<double>(local.tokens);
  double sums[4] = {local.loss, local.clip_fraction * tokens, local.kl * tokens, tokens};
  comm.all_reduce_sum(sums);
  GrpoUpdateStats out;
  out.loss = sums[0];
  out.tokens = static_cast<int64_t>(sums[3]);
  if (sums[3] > 0) {
    out.clip_fraction = sums[1] / sums[3];
    out.kl = sums[2] / sums[3];
  }
  return out;
}

}  // namespace ponder
