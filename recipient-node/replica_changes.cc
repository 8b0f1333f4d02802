// RecipientNode::StartChangeListener / StopChangeListener: Watch across
// replicas. Every replica sharing a PostgreSQL database writes its mailbox
// changes with NOTIFY (core/storage/pg_store.h); this thread LISTENs and
// wakes the local Watch streams of the users named, exactly as a local
// change does (ChangeFeed::NotifyUser: the payload names the user only, so every
// folder of theirs counts as changed). A lost connection is re-opened; while
// it is down, Watch streams still see local changes and their own periodic
// re-read.
#include "core/storage/pg_store.h"
#include "core/util/logging.h"
#include "recipient-node/recipient_node.h"

namespace pullmail {

void RecipientNode::StartChangeListener() {
  if (config_.database.empty()) return;
  listen_stop_.store(false);
  listen_thread_ = std::thread([this] {
    std::unique_ptr<PgChangeListener> listener;
    while (!listen_stop_.load()) {
      if (listener == nullptr) {
        auto opened = PgChangeListener::Open(config_.database);
        if (!opened.ok()) {
          PM_LOG(WARNING) << "replica change listener: " << opened.status();
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          continue;
        }
        listener = *std::move(opened);
      }
      auto users = listener->Wait(absl::Milliseconds(250));
      if (!users.ok()) {
        PM_LOG(WARNING) << "replica change listener: " << users.status();
        listener.reset();
        continue;
      }
      for (const std::string& user : *users) changes_.NotifyUser(user);
    }
  });
}

void RecipientNode::StopChangeListener() {
  listen_stop_.store(true);
  if (listen_thread_.joinable()) listen_thread_.join();
}

}  // namespace pullmail
