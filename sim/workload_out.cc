// --workload_out (see workload_out.h).
#include "sim/workload_out.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "sim/metrics.h"
#include "sim/pull_world.h"

namespace pullmail::sim {
namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// Seconds with millisecond precision; JSON has no infinity (-1 stands for it).
std::string Seconds(double s) {
  if (!std::isfinite(s)) return "-1";
  return absl::StrFormat("%.3f", s);
}

std::string WorldLine(std::string_view name, const WorldMetrics& m) {
  std::vector<std::string> bytes, outcomes;
  for (int k = 0; k < static_cast<int>(ByteKind::kCount); ++k) {
    bytes.push_back(absl::StrCat(Quote(ByteKindName(static_cast<ByteKind>(k))), ":",
                                 m.bytes[static_cast<size_t>(k)]));
  }
  for (int o = 0; o < static_cast<int>(Outcome::kCount); ++o) {
    outcomes.push_back(absl::StrCat(Quote(OutcomeName(static_cast<Outcome>(o))), ":[",
                                    m.outcomes[static_cast<size_t>(o)][0], ",",
                                    m.outcomes[static_cast<size_t>(o)][1], "]"));
  }
  return absl::StrCat(
      "{\"type\":\"world\",\"name\":", Quote(name), ",\"bytes\":{", absl::StrJoin(bytes, ","),
      "},\"outcomes\":{", absl::StrJoin(outcomes, ","), "},\"copies_shown\":[", m.copies_shown[0],
      ",", m.copies_shown[1], "],\"copies_read\":[", m.copies_read[0], ",", m.copies_read[1],
      "],\"bodies_fetched\":[", m.bodies_fetched[0], ",", m.bodies_fetched[1],
      "],\"cache_hits\":", m.cache_hits, ",\"reports_spam\":", m.reports_spam,
      ",\"suppress_events\":", m.suppress_events, ",\"bounces\":", m.bounces,
      ",\"notifications_sent\":", m.notifications_sent, ",\"fetch_calls\":", m.fetch_calls,
      ",\"pins\":", m.pins, ",\"filtered_push\":", m.filtered_push,
      ",\"dnsbl_sessions_refused\":", m.dnsbl_sessions_refused,
      ",\"greylist_deferrals\":", m.greylist_deferrals, "}\n");
}

}  // namespace

std::string DescribeCopyTrace(uint8_t t) {
  static const char* kPlaces[] = {"none", "shown", "junk", "held", "hidden", "?", "?", "?"};
  std::string out = kPlaces[t & PullWorld::kPlaceMask];
  if (t & PullWorld::kTraceFetched) out += " read";
  if (t & PullWorld::kTracePrefetched) out += " prefetched";
  if (t & PullWorld::kTraceBounced) out += " bounced";
  return out;
}

absl::Status WriteWorkload(const RunResult& r, const std::string& path) {
  if (r.world == nullptr) return absl::InternalError("WriteWorkload: the run kept no world");
  const World& w = *r.world;
  const Scenario& sc = w.scenario();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));

  out << "{\"type\":\"run\",\"name\":" << Quote(sc.run.name) << ",\"seed\":" << sc.run.seed
      << ",\"mode\":" << Quote(ModeName(sc.run.mode)) << ",\"end_time\":" << Seconds(r.end_time)
      << ",\"horizon\":" << Seconds(w.horizon()) << ",\"max_time\":" << Seconds(sc.run.max_time)
      << ",\"messages\":" << w.messages().size() << ",\"copies\":" << w.copies() << "}\n";

  // The addresses that send from each spam domain (its bots).
  std::vector<std::set<std::string>> senders(w.domains().size());
  for (const Message& m : w.messages()) {
    if (w.IsSpam(m)) senders[m.sender_domain].insert(w.SenderAddress(m));
  }
  for (uint32_t d = 0; d < w.domains().size(); ++d) {
    const Domain& dom = w.domains()[d];
    std::vector<std::string> users;
    if (dom.campaign >= 0) {
      for (const std::string& s : senders[d]) users.push_back(Quote(s));
    } else {
      for (uint32_t u = dom.first_user; u < dom.first_user + dom.users; ++u) {
        users.push_back(Quote(w.RecipientAddress(u)));
      }
    }
    out << "{\"type\":\"domain\",\"index\":" << d << ",\"name\":" << Quote(dom.name)
        << ",\"spam\":" << (dom.campaign >= 0 ? "true" : "false") << ",\"users\":["
        << absl::StrJoin(users, ",") << "]}\n";
  }

  for (uint32_t i = 0; i < w.messages().size(); ++i) {
    const Message& m = w.messages()[i];
    std::vector<std::string> to;
    for (uint32_t j = m.rcpt_begin; j < m.rcpt_begin + m.rcpt_count; ++j) {
      to.push_back(Quote(w.RecipientAddress(w.rcpts()[j])));
    }
    out << "{\"type\":\"message\",\"index\":" << i << ",\"created\":" << Seconds(m.created)
        << ",\"from\":" << Quote(w.SenderAddress(m)) << ",\"sender_user\":" << m.sender_user
        << ",\"domain\":" << m.sender_domain
        << ",\"size\":" << m.body_size << ",\"body\":" << m.body_id
        << ",\"spam\":" << (w.IsSpam(m) ? "true" : "false") << ",\"campaign\":" << m.campaign
        << ",\"subject_bytes\":" << w.SubjectBytes(m)
        << ",\"message_id\":" << Quote(w.MessageId(i)) << ",\"to\":[" << absl::StrJoin(to, ",")
        << "]}\n";
  }

  const bool traced = r.pull != nullptr && r.pull_trace.size() == w.copies();
  for (uint32_t i = 0; i < w.messages().size(); ++i) {
    const Message& m = w.messages()[i];
    for (uint32_t j = m.rcpt_begin; j < m.rcpt_begin + m.rcpt_count; ++j) {
      const uint32_t entry = w.rcpts()[j];
      out << "{\"type\":\"copy\",\"message\":" << i << ",\"to\":"
          << Quote(w.RecipientAddress(entry));
      if (!(entry & kInvalidRecipient)) {
        const ReaderChoice c = w.Reader(i, entry, w.IsSpam(m));
        out << ",\"reads\":" << (c.reads ? "true" : "false") << ",\"delay\":" << Seconds(c.delay)
            << ",\"reports\":" << (c.reports ? "true" : "false");
      }
      if (traced) out << ",\"pull\":" << Quote(DescribeCopyTrace(r.pull_trace[j]));
      out << "}\n";
    }
  }

  if (r.pull) out << WorldLine("pull", *r.pull);
  if (r.push) out << WorldLine("push", *r.push);
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("error writing ", path));
  return absl::OkStatus();
}

}  // namespace pullmail::sim
