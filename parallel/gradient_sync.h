// Summing a data-parallel step's gradients over ranks, as backward produces
// them (docs/SCALING.md).
//
// Every rank runs backward on its share of the batch; before the optimizer
// step each rank's gradients must become the sum over all ranks, the same
// bits everywhere. A GradientSync is given to the step's last backward as its
// GradientListener (policy/model.h) and may start reducing each part of the
// gradients as soon as backward says it is final, so that on a GPU the
// reduction of the last layers overlaps the backward of the first ones;
// finish() completes what is left.
//
// Contract:
//  - finish() is a collective: every rank calls it once per optimizer step,
//    in the same order relative to other collectives, whether or not it ran
//    a backward (a rank with no rollouts in a GRPO mini-batch still does).
//  - After finish() returns (in stream order, on a GPU), the gradients are the
//    sum over ranks; nothing may write them between the listened backward and
//    finish().
//  - Every rank launches the same reductions in the same order whatever its
//    backward reported, because the buckets are a fixed split of the array
//    (GradientBuckets), launched in a fixed order; only when they start
//    differs between ranks.
//  - A started reduction waits on the GPU for every rank's matching one. So a
//    rank that runs no backward in a step reports gradients_final_from(0) as
//    soon as it knows, before any other collective call; and between its
//    first report and finish() no rank waits for its whole device (cudaFree,
//    cudaDeviceSynchronize), which would wait for that reduction too.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "parallel/communicator.h"
#include "policy/backend.h"
#include "policy/model.h"

namespace ponder {

class GradientSync : public GradientListener {
 public:
  virtual void finish() = 0;
};

// The fixed split of `count` gradients into buckets of `bucket_elements`,
// last first: bucket 0 is the last bucket_elements values, bucket k the ones
// before bucket k − 1, and the final bucket (from 0) may be shorter. Tracks
// which have been launched in the current step.
class GradientBuckets {
 public:
  // Throws ponder::Error when bucket_elements is 0.
  GradientBuckets(size_t count, size_t bucket_elements);

  size_t size() const { return buckets_.size(); }
  Slice bucket(size_t k) const { return buckets_[k]; }

  // Calls launch(bucket) for each bucket not yet launched that lies wholly in
  // [offset, count), in bucket order.
  void final_from(size_t offset, const std::function<void(Slice)>& launch);
  // Calls launch(bucket) for every bucket not yet launched, in bucket order,
  // and starts the next step with none launched.
  void finish(const std::function<void(Slice)>& launch);

 private:
  std::vector<Slice> buckets_;
  size_t launched_ = 0;
};

// Gradients in host memory (the CPU backend), summed over MPI in finish().
// Nothing starts early: on a CPU, backward already keeps every core busy, and
// MPI moves a non-blocking collective along only inside MPI calls, so an
// early start would not overlap anything.
class HostGradientSync final : public GradientSync {
 public:
  HostGradientSync(Communicator& comm, std::span<float> grads) : comm_(comm), grads_(grads) {}
  void gradients_final_from(size_t) override {}
  void finish() override { comm_.all_reduce_sum(grads_); }

 private:
  Communicator& comm_;
  std::span<float> grads_;
};

// Gradients in device memory, summed through host memory: download, MPI
// all-reduce, upload, in finish(). For GPU builds without NCCL; the staging
// buffer is kept across steps.
class StagedGradientSync final : public GradientSync {
 public:
  StagedGradientSync(Communicator& comm, Backend<float>& backend, float* grads, size_t count)
      : comm_(comm), backend_(backend), grads_(grads), host_(count) {}
  void gradients_final_from(size_t) override {}
  void finish() override;

 private:
  Communicator& comm_;
  Backend<float>& backend_;
  float* grads_;
  std::vector<float> host_;
};

}  // namespace ponder
