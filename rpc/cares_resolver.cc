// CaresResolver (see cares_resolver.h): c-ares driven by poll(2) on the
// calling thread until every answer is in or the deadline passes.
#include "rpc/cares_resolver.h"

#include <ares.h>
#include <poll.h>

#include <algorithm>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/directory/dns_record.h"

namespace pullmail {
namespace {

constexpr int kClassIn = 1;
constexpr int kTypeTxt = 16;

struct Slot {
  bool done = false;
  absl::StatusOr<TxtRecords> result = absl::UnavailableError("no answer");
  int* pending = nullptr;
};

void OnAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  Slot* slot = static_cast<Slot*>(arg);
  if (slot->done) return;
  slot->done = true;
  --*slot->pending;
  if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
    slot->result = absl::NotFoundError(ares_strerror(status));
    return;
  }
  if (status != ARES_SUCCESS) {
    slot->result = absl::UnavailableError(ares_strerror(status));
    return;
  }
  absl::StatusOr<TxtAnswer> parsed = ParseTxtResponse(
      std::string_view(reinterpret_cast<const char*>(abuf), static_cast<size_t>(std::max(alen, 0))));
  if (!parsed.ok()) {
    slot->result = absl::UnavailableError(absl::StrCat("bad DNS response: ", parsed.status().message()));
  } else if (parsed->records.empty()) {
    slot->result = absl::NotFoundError("no TXT records");
  } else {
    slot->result = TxtRecords{std::move(parsed->records), parsed->ttl};
  }
}

struct ChannelCloser {
  void operator()(ares_channeldata* c) const { ares_destroy(c); }
};

}  // namespace

absl::StatusOr<std::unique_ptr<CaresResolver>> CaresResolver::Create(CaresResolverOptions options) {
  static std::once_flag once;
  static int init_status = ARES_SUCCESS;
  std::call_once(once, [] { init_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (init_status != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("ares_library_init: ", ares_strerror(init_status)));
  }
  std::unique_ptr<CaresResolver> r(new CaresResolver(std::move(options)));
  // Check the server list once, so that a typo fails at start.
  ares_channel probe = nullptr;
  if (int s = ares_init(&probe); s != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("ares_init: ", ares_strerror(s)));
  }
  std::unique_ptr<ares_channeldata, ChannelCloser> closer(probe);
  if (!r->options_.servers.empty()) {
    if (int s = ares_set_servers_ports_csv(probe, r->options_.servers.c_str()); s != ARES_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("DNS servers '", r->options_.servers, "': ", ares_strerror(s)));
    }
  }
  return r;
}

std::vector<absl::StatusOr<TxtRecords>> CaresResolver::Resolve(const std::vector<std::string>& names) {
  std::vector<absl::StatusOr<TxtRecords>> out;
  const absl::Time deadline = absl::Now() + options_.deadline;
  ares_options opts{};
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  // Each try gets its share of the deadline.
  opts.timeout = static_cast<int>(
      std::max<int64_t>(50, absl::ToInt64Milliseconds(options_.deadline) / std::max(1, options_.tries)));
  opts.tries = std::max(1, options_.tries);
  opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_EDNS;
  ares_channel raw = nullptr;
  if (int s = ares_init_options(&raw, &opts, mask); s != ARES_SUCCESS) {
    for (size_t i = 0; i < names.size(); ++i) {
      out.push_back(absl::UnavailableError(absl::StrCat("ares_init: ", ares_strerror(s))));
    }
    return out;
  }
  std::unique_ptr<ares_channeldata, ChannelCloser> channel(raw);
  if (!options_.servers.empty()) {
    if (int s = ares_set_servers_ports_csv(raw, options_.servers.c_str()); s != ARES_SUCCESS) {
      for (size_t i = 0; i < names.size(); ++i) {
        out.push_back(absl::UnavailableError(absl::StrCat("DNS servers: ", ares_strerror(s))));
      }
      return out;
    }
  }

  int pending = static_cast<int>(names.size());
  std::vector<Slot> slots(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    slots[i].pending = &pending;
    ares_query(raw, names[i].c_str(), kClassIn, kTypeTxt, &OnAnswer, &slots[i]);
  }
  while (pending > 0) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(raw, socks, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    int n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events == 0) continue;
      fds[n].fd = socks[i];
      fds[n].events = events;
      fds[n].revents = 0;
      ++n;
    }
    timeval max_tv = absl::ToTimeval(left);
    timeval tv_storage;
    timeval* tv = ares_timeout(raw, &max_tv, &tv_storage);
    int wait_ms = static_cast<int>(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
    int ready = poll(fds, static_cast<nfds_t>(n), std::max(wait_ms, 1));
    if (ready <= 0) {
      ares_process_fd(raw, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
      continue;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      ares_socket_t rd = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
      ares_socket_t wr = (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
      ares_process_fd(raw, rd, wr);
    }
  }
  // Whatever is still pending has missed the deadline: its callback runs
  // (ARES_ECANCELLED) now, and the slot keeps "Unavailable".
  ares_cancel(raw);
  for (size_t i = 0; i < names.size(); ++i) {
    if (!slots[i].done || (!slots[i].result.ok() && !absl::IsNotFound(slots[i].result.status()))) {
      if (!slots[i].done) slots[i].result = absl::UnavailableError("timeout");
      if (slots[i].result.status().message() == ares_strerror(ARES_ECANCELLED)) {
        slots[i].result = absl::UnavailableError(
            absl::StrCat("no answer within ", absl::FormatDuration(options_.deadline)));
      }
    }
    out.push_back(std::move(slots[i].result));
  }
  return out;
}

}  // namespace pullmail
