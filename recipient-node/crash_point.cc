// See crash_point.h.
#include "recipient-node/crash_point.h"

#include <csignal>
#include <cstdlib>
#include <string>

#include "core/util/logging.h"

namespace pullmail {

void CrashPoint(std::string_view name) {
  static const std::string armed = [] {
    const char* v = std::getenv("PULLMAIL_CRASH_POINT");
    return std::string(v != nullptr ? v : "");
  }();
  if (armed.empty() || armed != name) return;
  PM_LOG(WARNING) << "PULLMAIL_CRASH_POINT=" << armed << " reached: killing this process";
  std::raise(SIGKILL);
}

}  // namespace pullmail
