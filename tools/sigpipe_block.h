// SigpipeBlock: while alive, SIGPIPE is blocked in the calling thread, and one
// raised meanwhile is taken off the queue before unblocking. Writing to a
// child process that just died (a tool worker, a reward command) must not
// kill the trainer.
#pragma once

#include <signal.h>

#include <ctime>

namespace ponder {

class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    const struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_, old_;
};

}  // namespace ponder
