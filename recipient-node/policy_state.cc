// Text form of the policy snapshot (see policy_state.h).
#include "recipient-node/policy_state.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/crypto/encoding.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

std::string TimeField(absl::Time t) { return absl::StrCat(absl::ToUnixMillis(t)); }

// Shortest text that reads back as the same double (StrCat's six digits
// would drift a little at every report).
std::string Count(double v) { return absl::StrFormat("%.17g", v); }

bool ParseTime(absl::string_view s, absl::Time* t) {
  int64_t ms;
  if (!absl::SimpleAtoi(s, &ms)) return false;
  *t = absl::FromUnixMillis(ms);
  return true;
}

}  // namespace

std::string PolicySnapshotText(const PolicySnapshot& snap) {
  std::string out;
  for (const auto& b : snap.bodies) {
    absl::StrAppend(&out, "B ", HexEncode(b.sha256), " ", Count(b.spam), " ", Count(b.not_spam),
                    " ", b.spam_reports, " ", b.not_spam_reports, " ", b.reads, " ",
                    TimeField(b.last_activity), "\n");
  }
  for (const auto& d : snap.domains) {
    absl::StrAppend(&out, "D ", d.domain, " ", Count(d.reads), " ", Count(d.spam), " ",
                    Count(d.not_spam), " ", TimeField(d.updated), " ",
                    d.last_spam ? TimeField(*d.last_spam) : "-", "\n");
    // The distinct peers that reported spam about it, after its D line.
    for (const std::string& peer : d.spam_peers) absl::StrAppend(&out, "P ", peer, "\n");
  }
  return out;
}

absl::StatusOr<PolicySnapshot> ParsePolicySnapshot(std::string_view text,
                                                   std::string_view source) {
  PolicySnapshot snap;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(AV(text), '\n')) {
    ++n;
    if (line.empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    auto bad = [&] {
      return absl::InvalidArgumentError(absl::StrCat(AV(source), ":", n, ": malformed"));
    };
    if (f[0] == "B" && f.size() == 8) {
      PolicySnapshot::Body b;
      auto sha = HexDecode(SV(f[1]));
      if (!sha.ok()) return bad();
      b.sha256 = *sha;
      if (!absl::SimpleAtod(f[2], &b.spam) || !absl::SimpleAtod(f[3], &b.not_spam) ||
          !absl::SimpleAtoi(f[4], &b.spam_reports) || !absl::SimpleAtoi(f[5], &b.not_spam_reports) ||
          !absl::SimpleAtoi(f[6], &b.reads) || !ParseTime(f[7], &b.last_activity)) {
        return bad();
      }
      snap.bodies.push_back(std::move(b));
    } else if (f[0] == "D" && f.size() == 7) {
      PolicySnapshot::Domain d;
      d.domain = std::string(f[1]);
      if (!absl::SimpleAtod(f[2], &d.reads) || !absl::SimpleAtod(f[3], &d.spam) ||
          !absl::SimpleAtod(f[4], &d.not_spam) || !ParseTime(f[5], &d.updated)) {
        return bad();
      }
      if (f[6] != "-") {
        absl::Time t;
        if (!ParseTime(f[6], &t)) return bad();
        d.last_spam = t;
      }
      snap.domains.push_back(std::move(d));
    } else if (f[0] == "P" && f.size() == 2 && !snap.domains.empty()) {
      snap.domains.back().spam_peers.emplace_back(f[1]);
    } else {
      return bad();
    }
  }
  return snap;
}

absl::StatusOr<PolicySnapshot> LoadPolicySnapshot(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return ParsePolicySnapshot(text.str(), path);
}

}  // namespace pullmail
