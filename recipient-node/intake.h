// The recipient node's notification intake: every core verifies, one thread
// commits. Every Notify and NotifyStream call hands its notifications to one
// pool of verification threads (one per core); a single committer takes
// whatever has been verified, from all calls at once, applies the rest of
// core's decision (duplicates, local users, placement) and stores it in one
// transaction (group commit across calls), and only then completes each
// call with its results. The decisions are core's (VerifyForAccept,
// FinishAccept); this file holds threads and queues only.
#ifndef PULLMAIL_RECIPIENT_NODE_INTAKE_H_
#define PULLMAIL_RECIPIENT_NODE_INTAKE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/envelope/envelope.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

class RecipientNode;

class Intake {
 public:
  using Done = std::function<void(std::vector<v1::NotifyResult>)>;

  // Starts `verify_threads` verifiers (at least 1) and the committer.
  // `node` must outlive this.
  Intake(RecipientNode* node, int verify_threads);
  // Finishes every job already submitted, then joins the threads.
  ~Intake();
  Intake(const Intake&) = delete;
  Intake& operator=(const Intake&) = delete;

  // Queues `batch` (non-empty). `done` is called once, on the committer
  // thread, with one result per input in input order, after the commit
  // that made them durable (or with UNAVAILABLE results if it failed). It
  // must not block for long: it holds up every other call's commit.
  void Submit(std::vector<v1::SignedNotification> batch, Done done);

  // Submit and wait for the results.
  std::vector<v1::NotifyResult> Accept(std::vector<v1::SignedNotification> batch);

  // Tree heads verified so far (shared by every call).
  VerifiedBatchRoots& verified_roots() { return roots_; }

 private:
  struct Job;
  struct Task {
    Job* job;
    size_t begin, end;
  };
  void VerifyLoop();
  void CommitLoop();

  RecipientNode* node_;
  VerifiedBatchRoots roots_;

  std::mutex mu_;
  std::condition_variable task_cv_, ready_cv_;
  std::deque<Task> tasks_;
  std::deque<std::unique_ptr<Job>> ready_;
  size_t unfinished_jobs_ = 0;  // submitted, not yet committed
  // Jobs answered, freed by a verifier: freeing a commit group's
  // notifications is the committer's to do otherwise, and it is the one
  // thread every notification waits for.
  std::vector<std::unique_ptr<Job>> finished_;
  bool stop_ = false;
  std::vector<std::thread> verifiers_;
  std::thread committer_;
};

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_INTAKE_H_
