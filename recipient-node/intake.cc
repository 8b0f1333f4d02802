// Intake (see intake.h).
#include "recipient-node/intake.h"

#include <pthread.h>

#include <atomic>
#include <future>

#include "core/logic/acceptor.h"
#include "core/util/limits.h"
#include "recipient-node/recipient_node.h"

namespace pullmail {
namespace {

// Notifications per verification task. Small enough that a stream's read-
// ahead spreads over every core; a run of one batch's notifications is never
// cut (its tree head is then verified once, by one thread).
constexpr size_t kTaskSize = 16;
// Notifications per group commit, across calls.
constexpr size_t kMaxCommit = 1024;

// The batch a notification belongs to, for keeping a batch in one task.
bool SameBatch(const v1::SignedNotification& a, const v1::SignedNotification& b) {
  return a.has_batch() && b.has_batch() && a.signature() == b.signature() &&
         a.batch().tree_size() == b.batch().tree_size();
}

}  // namespace

struct Intake::Job {
  std::vector<v1::SignedNotification> items;
  std::vector<AcceptDecision> decisions;
  std::atomic<size_t> pending_tasks{0};
  Done done;
};

Intake::Intake(RecipientNode* node, int verify_threads) : node_(node) {
  // Named, so that per-thread CPU (top -H, /proc/PID/task, node_bench)
  // tells verification from commits.
  for (int i = 0; i < std::max(1, verify_threads); ++i) {
    verifiers_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "pm-verify");
      VerifyLoop();
    });
  }
  committer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pm-commit");
    CommitLoop();
  });
}

Intake::~Intake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  task_cv_.notify_all();
  ready_cv_.notify_all();
  for (std::thread& t : verifiers_) t.join();
  committer_.join();
}

void Intake::Submit(std::vector<v1::SignedNotification> batch, Done done) {
  auto job = std::make_unique<Job>();
  job->items = std::move(batch);
  job->decisions.resize(job->items.size());
  job->done = std::move(done);
  std::vector<Task> tasks;
  const std::vector<v1::SignedNotification>& items = job->items;
  for (size_t begin = 0; begin < items.size();) {
    size_t end = begin + 1;
    while (end < items.size()) {
      const bool same = SameBatch(items[end - 1], items[end]);
      if (end - begin >= (same ? limits::kMaxBatchLeaves : kTaskSize)) break;
      ++end;
    }
    tasks.push_back(Task{job.get(), begin, end});
    begin = end;
  }
  job->pending_tasks = tasks.size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++unfinished_jobs_;
    for (const Task& t : tasks) tasks_.push_back(t);
    job.release();  // owned by its tasks until the last one hands it to ready_
  }
  task_cv_.notify_all();
}

std::vector<v1::NotifyResult> Intake::Accept(std::vector<v1::SignedNotification> batch) {
  std::promise<std::vector<v1::NotifyResult>> promise;
  std::future<std::vector<v1::NotifyResult>> future = promise.get_future();
  Submit(std::move(batch),
         [&promise](std::vector<v1::NotifyResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Intake::VerifyLoop() {
  while (true) {
    Task task;
    std::vector<std::unique_ptr<Job>> finished;
    {
      std::unique_lock<std::mutex> lock(mu_);
      task_cv_.wait(lock, [&] {
        return !tasks_.empty() || !finished_.empty() || (stop_ && unfinished_jobs_ == 0);
      });
      finished.swap(finished_);
      if (tasks_.empty()) {
        if (!finished.empty()) continue;  // freed outside the lock
        return;
      }
      task = tasks_.front();
      tasks_.pop_front();
    }
    finished.clear();
    AcceptContext ctx = node_->MakeAcceptContext();
    ctx.verified_roots = &roots_;
    Job* job = task.job;
    for (size_t i = task.begin; i < task.end; ++i) {
      job->decisions[i] = VerifyForAccept(job->items[i], ctx);
    }
    if (job->pending_tasks.fetch_sub(1) == 1) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ready_.push_back(std::unique_ptr<Job>(job));
      }
      ready_cv_.notify_one();
    }
  }
}

void Intake::CommitLoop() {
  while (true) {
    std::vector<std::unique_ptr<Job>> jobs;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_cv_.wait(lock, [&] { return !ready_.empty() || (stop_ && unfinished_jobs_ == 0); });
      if (ready_.empty()) break;
      size_t items = 0;
      while (!ready_.empty() && (jobs.empty() || items + ready_.front()->items.size() <= kMaxCommit)) {
        items += ready_.front()->items.size();
        jobs.push_back(std::move(ready_.front()));
        ready_.pop_front();
      }
    }
    std::vector<const v1::SignedNotification*> items;
    std::vector<AcceptDecision*> decisions;  // the jobs', freed with them by a verifier
    for (auto& job : jobs) {
      for (size_t i = 0; i < job->items.size(); ++i) {
        items.push_back(&job->items[i]);
        decisions.push_back(&job->decisions[i]);
      }
    }
    std::vector<v1::NotifyResult> results = node_->CommitVerified(items, decisions);
    size_t at = 0;
    for (auto& job : jobs) {
      std::vector<v1::NotifyResult> mine(std::make_move_iterator(results.begin() + at),
                                         std::make_move_iterator(results.begin() + at +
                                                                 job->items.size()));
      at += job->items.size();
      for (size_t i = 0; i < mine.size(); ++i) mine[i].set_sequence(i);
      job->done(std::move(mine));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      unfinished_jobs_ -= jobs.size();
      for (auto& job : jobs) finished_.push_back(std::move(job));
    }
    task_cv_.notify_all();
  }
  task_cv_.notify_all();
}

}  // namespace pullmail
