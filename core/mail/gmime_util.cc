// GMime start-up and ownership helpers (see gmime_util.h).
#include "core/mail/gmime_util.h"

#include <mutex>

namespace pullmail::mail_internal {

void InitGMimeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string TakeGString(char* s) {
  if (s == nullptr) return std::string();
  std::string out(s);
  g_free(s);
  return out;
}

}  // namespace pullmail::mail_internal
