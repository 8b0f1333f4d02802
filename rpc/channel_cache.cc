#include "rpc/channel_cache.h"

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "rpc/tls.h"

namespace pullmail {

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelCache::Get(const std::string& endpoint,
                                                                 const std::string& peer_domain) {
  const std::string key = absl::StrCat(peer_domain, "|", endpoint);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = channels_.find(key);
  if (it != channels_.end()) return it->second;
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> ch, Dial(*tls_, endpoint, peer_domain));
  if (channels_.size() >= kMaxChannels) channels_.clear();
  channels_.emplace(key, ch);
  return ch;
}

size_t ChannelCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return channels_.size();
}

}  // namespace pullmail
